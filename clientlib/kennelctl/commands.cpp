#include "commands.h"

#include "clientrun.h"

#include <QTimer>

#include <cstdio>
#include <utility>

using Kennel::BrokerAddress;
using Kennel::KennelClient;

namespace KennelCtl {

namespace {

using std::chrono::milliseconds;

constexpr milliseconds DefaultConnectTimeout{10000};

// Written with stdio and flushed per line: a test or a pipeline reading kennelctl's output sees
// each line when it happens, not when a buffer fills.
void printLine(FILE *stream, const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stream);
    std::fputc('\n', stream);
    std::fflush(stream);
}

void report(const QString &text)
{
    printLine(stderr, QByteArrayLiteral("kennelctl: ") + text.toUtf8());
}

QString describe(const BrokerAddress &broker)
{
    return broker.toString();
}

bool isContinuation(uchar byte)
{
    return (byte & 0xC0) == 0x80;
}

// Length of the well-formed UTF-8 sequence at `i` that encodes a printable character, or 0.
qsizetype printableUtf8Length(QByteArrayView bytes, qsizetype i)
{
    const auto at = [&](qsizetype k) { return k < bytes.size() ? uchar(bytes[k]) : uchar(0); };
    const uchar lead = at(i);
    if (lead >= 0xC2 && lead <= 0xDF) {
        if (!isContinuation(at(i + 1)))
            return 0;
        // U+0080..U+009F are the C1 controls; some terminals act on them.
        return (lead == 0xC2 && at(i + 1) < 0xA0) ? 0 : 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        const uchar b1 = at(i + 1);
        if (!isContinuation(b1) || !isContinuation(at(i + 2)))
            return 0;
        if ((lead == 0xE0 && b1 < 0xA0) || (lead == 0xED && b1 >= 0xA0)) // overlong, surrogate
            return 0;
        // U+2028, U+2029: line and paragraph separators would split the line for some readers.
        if (lead == 0xE2 && b1 == 0x80 && (at(i + 2) == 0xA8 || at(i + 2) == 0xA9))
            return 0;
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        const uchar b1 = at(i + 1);
        if (!isContinuation(b1) || !isContinuation(at(i + 2)) || !isContinuation(at(i + 3)))
            return 0;
        if ((lead == 0xF0 && b1 < 0x90) || (lead == 0xF4 && b1 >= 0x90)) // overlong, > U+10FFFF
            return 0;
        return 4;
    }
    return 0;
}

} // namespace

QByteArray escapeForLine(QByteArrayView payload)
{
    static const char hex[] = "0123456789abcdef";
    QByteArray out;
    out.reserve(payload.size());
    for (qsizetype i = 0; i < payload.size();) {
        const uchar c = uchar(payload[i]);
        if (c == '\\') {
            out += "\\\\";
            ++i;
        } else if (c >= 0x20 && c < 0x7F) {
            out += char(c);
            ++i;
        } else if (const qsizetype n = c >= 0x80 ? printableUtf8Length(payload, i) : 0) {
            out += payload.sliced(i, n);
            i += n;
        } else {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
            ++i;
        }
    }
    return out;
}

int runSend(const SendOptions &options)
{
    ClientRun run(options.broker, options.name, milliseconds(options.timeoutMs));
    KennelClient &client = run.client;
    QEventLoop &loop = run.loop;
    bool registered = false;
    bool transportOpen = false; // connected() seen: the broker was reached
    quint32 messageId = 0;
    const auto finish = [&run](int code) { run.finish(code); };

    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&] {
        report(registered ? QStringLiteral("timed out after %1 ms waiting for the delivery status").arg(options.timeoutMs)
                          : QStringLiteral("timed out after %1 ms connecting to %2").arg(options.timeoutMs).arg(describe(options.broker)));
        finish(ExitTimeout);
    });
    QObject::connect(&client, &KennelClient::registered, &loop, [&] {
        registered = true;
        messageId = client.send(options.target, options.text, true);
        if (messageId == 0) {
            report(QStringLiteral("the message (%1 bytes) exceeds the broker's frame size limit of %2 bytes")
                       .arg(options.text.size()).arg(client.brokerMaxFrameSize()));
            finish(ExitUsage);
        }
    });
    QObject::connect(&client, &KennelClient::deliveryStatusReceived, &loop,
                     [&](quint32 id, const QByteArray &, Kennel::DeliveryStatus status) {
        // `held`: kept for the target or on its way to another board; the final status follows.
        if (id != messageId || status == Kennel::DeliveryStatus::Held)
            return;
        if (status == Kennel::DeliveryStatus::Delivered) {
            printLine(stdout, QByteArrayLiteral("delivered to ") + options.target);
            finish(ExitOk);
        } else {
            printLine(stdout, QByteArrayLiteral("not delivered to ") + options.target + QByteArrayLiteral(": ")
                                  + Kennel::deliveryStatusName(status));
            finish(ExitStatusBase + int(status));
        }
    });
    QObject::connect(&client, &KennelClient::errorOccurred, &loop,
                     [&](KennelClient::ClientError error, const QString &text) {
        if (registered) {
            report(QStringLiteral("broker: %1").arg(text));
            return; // a lost connection is handled below
        }
        // "cannot register" said of a broker that was never reached sent operators looking at names.
        report(transportOpen ? QStringLiteral("cannot register as %1 at %2: %3").arg(QString::fromUtf8(options.name), describe(options.broker), text)
                             : QStringLiteral("cannot connect to %1: %2").arg(describe(options.broker), text));
        finish(error == KennelClient::Timeout ? ExitTimeout : ExitCannotConnect);
    });
    QObject::connect(&client, &KennelClient::connected, &loop, [&] { transportOpen = true; });
    QObject::connect(&client, &KennelClient::stateChanged, &loop, [&](KennelClient::State state) {
        if (registered && state == KennelClient::Disconnected && !run.isFinished()) {
            report(QStringLiteral("connection lost before the delivery status arrived"));
            finish(ExitConnectionLost);
        }
    });

    deadline.start(options.timeoutMs);
    return run.exec(false);
}

int runListen(const ListenOptions &options)
{
    ClientRun run(options.broker, options.name, options.timeoutMs > 0 ? milliseconds(options.timeoutMs) : DefaultConnectTimeout);
    KennelClient &client = run.client;
    QEventLoop &loop = run.loop;
    client.setAutoReconnect(options.reconnect);
    run.finishOnSignals();
    bool everRegistered = false;
    bool transportOpen = false; // connected() seen: the broker was reached
    bool registeredNow = false;
    bool retryFailureReported = false; // --reconnect: say why once, not at every attempt
    int received = 0;
    const auto finish = [&run](int code) { run.finish(code); };

    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&] {
        if (!everRegistered) {
            report(QStringLiteral("timed out after %1 ms connecting to %2").arg(options.timeoutMs).arg(describe(options.broker)));
            finish(ExitTimeout);
        } else if (options.count > 0) {
            report(QStringLiteral("timed out after %1 ms with %2 of %3 messages")
                       .arg(options.timeoutMs).arg(received).arg(options.count));
            finish(ExitTimeout);
        } else {
            finish(ExitOk);
        }
    });

    QObject::connect(&client, &KennelClient::registered, &loop, [&](const QByteArray &name) {
        everRegistered = registeredNow = true;
        retryFailureReported = false;
        // On stderr, so stdout carries messages only; a test waits for this line before sending.
        report(QStringLiteral("listening as %1 at %2").arg(QString::fromUtf8(name), describe(options.broker)));
    });
    QObject::connect(&client, &KennelClient::messageReceived, &loop,
                     [&](const QByteArray &source, const QByteArray &payload, quint32) {
        if (run.isFinished())
            return;
        printLine(stdout, source + QByteArrayLiteral(": ") + escapeForLine(payload));
        if (options.count > 0 && ++received >= options.count)
            finish(ExitOk);
    });
    QObject::connect(&client, &KennelClient::errorOccurred, &loop,
                     [&](KennelClient::ClientError, const QString &text) {
        if (run.isFinished())
            return;
        if (client.state() == KennelClient::Registered) {
            report(QStringLiteral("broker: %1").arg(text)); // the connection stays
        } else if (registeredNow) {
            report(QStringLiteral("connection lost: %1").arg(text));
        } else if (!retryFailureReported) {
            retryFailureReported = options.reconnect;
            if (everRegistered)
                report(QStringLiteral("cannot reconnect: %1").arg(text));
            else if (transportOpen)
                report(QStringLiteral("cannot register as %1 at %2: %3").arg(QString::fromUtf8(options.name), describe(options.broker), text));
            else
                report(QStringLiteral("cannot connect to %1: %2").arg(describe(options.broker), text));
        }
    });
    QObject::connect(&client, &KennelClient::connected, &loop, [&] { transportOpen = true; });
    QObject::connect(&client, &KennelClient::stateChanged, &loop, [&](KennelClient::State state) {
        if (state != KennelClient::Disconnected || run.isFinished())
            return;
        const bool wasRegistered = std::exchange(registeredNow, false);
        if (client.reconnectPending()) {
            if (wasRegistered)
                report(QStringLiteral("reconnecting to %1").arg(describe(options.broker)));
            return;
        }
        if (everRegistered)
            finish(ExitConnectionLost);
        else
            finish(client.error() == KennelClient::Timeout ? ExitTimeout : ExitCannotConnect);
    });

    if (options.timeoutMs > 0)
        deadline.start(options.timeoutMs);
    return run.exec(true);
}

} // namespace KennelCtl
