#include "summarylabel.h"

#include "format.h"
#include "heldnames.h"
#include "monitorfeed.h"
#include "monitorlink.h"
#include "rateseries.h"

namespace Kennel {

SummaryLabel::SummaryLabel(QWidget *parent)
    : QLabel(parent)
{
    setObjectName(QStringLiteral("summary"));
}

void SummaryLabel::showTotals(const MonitorLink *link, const MonitorFeed &feed, const RateSeries &rates)
{
    // The figures are the last broker's; while the link is not live they are kept (the operator
    // may want them) but greyed and marked, and they go when the link is closed for good.
    const MonitorLink::State state = link ? link->state() : MonitorLink::State::Disconnected;
    if (!feed.hasTotals() || state == MonitorLink::State::Disconnected
        || (state != MonitorLink::State::Live && link->settings().address != m_address)) {
        setText(QString());
        setToolTip(QString());
        return;
    }
    const bool live = state == MonitorLink::State::Live;
    if (live)
        m_address = link->settings().address;
    setEnabled(live);
    const MonitorTotals &t = feed.lastTotals();
    QString text = live ? QString() : QStringLiteral("last seen: ");
    text += QStringLiteral("%1 · %2 watched · %3 routed")
                .arg(Format::count(t.clients, "client", "clients"))
                .arg(t.watched)
                .arg(t.messagesRouted);
    if (live && rates.count() > 0) {
        const RateSeries::Sample s = rates.smoothed(int(rates.count() - 1)); // as the chart shows it
        text += QStringLiteral(" · %1 · %2").arg(Format::rate(s.messagesPerSecond, false), Format::rate(s.bytesPerSecond, true));
    }
    if (t.undelivered > 0)
        text += QStringLiteral(" · %1 undelivered").arg(t.undelivered);
    if (t.kills > 0 || t.expiries > 0)
        text += QStringLiteral(" · %1, %2").arg(Format::count(t.expiries, "expiry", "expiries"), Format::count(t.kills, "kill", "kills"));
    // Monitor admission refused at the door, timed out or over the guess budget: an attack on
    // the operators' way in shows here; the breakdown is in the tooltip.
    const quint64 refused = t.admissionRefusedPerAddress + t.admissionRefusedPerPrefix + t.admissionRefusedRoomFull
                            + t.admissionTimeouts + t.guessesRefused + t.servicesRefused + t.admissionFailures
                            + t.handshakesRefusedPerAddress + t.handshakesRefusedPerPrefix + t.handshakesRefusedFull;
    if (refused > 0)
        text += QStringLiteral(" · %1").arg(Format::count(qint64(refused), "admission refused", "admissions refused"));
    // Held delivery (PROTOCOL §6.7): messages waiting for names expected back, and those that
    // waited in vain; every name held for, connected or not, in the tooltip.
    const quint64 heldLost = t.heldExpired + t.heldDroppedNameCount + t.heldDroppedNameBytes + t.heldDroppedTotal
                             + t.heldStartFailed + t.heldRefusedAtDelivery;
    if (t.heldMessages > 0 || heldLost > 0)
        text += heldLost > 0 ? QStringLiteral(" · %1 held (%2 not delivered)").arg(t.heldMessages).arg(heldLost)
                             : QStringLiteral(" · %1 held").arg(t.heldMessages);
    // Squatters on names reserved for services (docs/SECURITY.md).
    if (t.reservedNamesRefused > 0)
        text += QStringLiteral(" · %1").arg(Format::count(qint64(t.reservedNamesRefused), "reserved name refused", "reserved names refused"));
    setText(text);
    QString heldLines;
    if (const HeldNames *held = feed.heldNames(); held && !held->isEmpty()) {
        for (const QByteArray &name : held->names())
            heldLines += QStringLiteral("\n  %1: %2").arg(QString::fromLatin1(name), held->describe(name));
    }
    const QString heldTip =
        QStringLiteral("\nHeld now: %1 messages, %2 for %3 names%4\n"
                       "Held since start: %5 held, %6 delivered after hold, %7 expired, dropped %8 at a name's count / %9 at its bytes"
                       " / %10 at the total, %11 start_failed, %12 refused at delivery\n"
                       "Unacknowledged: %13 held again, %14 not; old-protocol senders not told %15, senders gone %16")
            .arg(t.heldMessages).arg(Format::bytes(t.heldBytes)).arg(t.heldNames).arg(heldLines)
            .arg(t.heldTotal).arg(t.heldDelivered).arg(t.heldExpired).arg(t.heldDroppedNameCount).arg(t.heldDroppedNameBytes)
            .arg(t.heldDroppedTotal).arg(t.heldStartFailed).arg(t.heldRefusedAtDelivery).arg(t.heldReheld)
            .arg(t.heldUnacknowledged).arg(t.heldLegacyUntold).arg(t.heldUntold);
    setToolTip(
        QStringLiteral("Monitor admission since the broker started:\n"
                       "refused per address %1, per network prefix %2, waiting room full %3\n"
                       "timed out %4, wrong credentials %5, token guesses over the budget %6, services refused %7\n"
                       "TLS handshakes refused per address %8, per prefix %9, all slots taken %10\n"
                       "Memory budgets: %11 shed, %12 monitor overflows, %13 snapshots refused")
            .arg(t.admissionRefusedPerAddress).arg(t.admissionRefusedPerPrefix).arg(t.admissionRefusedRoomFull)
            .arg(t.admissionTimeouts).arg(t.admissionFailures).arg(t.guessesRefused).arg(t.servicesRefused)
            .arg(t.handshakesRefusedPerAddress).arg(t.handshakesRefusedPerPrefix).arg(t.handshakesRefusedFull)
            .arg(t.budgetSheds).arg(t.monitorOverflows).arg(t.snapshotsRefused)
        + heldTip);
}

} // namespace Kennel
