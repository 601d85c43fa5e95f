#include "trafficmodel.h"

#include "format.h"

#include <QBrush>
#include <QColor>

#include <algorithm>
#include <limits>

namespace Kennel {

TrafficModel::TrafficModel(qsizetype capacity, QObject *parent)
    : QAbstractTableModel(parent)
    , m_rows(capacity)
    , m_held(capacity)
{
}

int TrafficModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TrafficModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TrafficModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return QStringLiteral("Time");
    case SourceColumn:
        return QStringLiteral("Source");
    case TargetColumn:
        return QStringLiteral("Target");
    case SizeColumn:
        return QStringLiteral("Size");
    case StatusColumn:
        return QStringLiteral("Status");
    case PreviewColumn:
        return QStringLiteral("Preview");
    }
    return {};
}

QVariant TrafficModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const TrafficEntry &e = m_rows.at(index.row());
    if (role == MarkerRole)
        return e.marker;
    if (e.marker) {
        switch (role) {
        case Qt::DisplayRole:
        case ExportRole:
            if (index.column() == TimeColumn)
                return role == ExportRole ? Format::isoUtc(e.timeUs) : Format::wallClockPrecise(e.timeUs);
            if (index.column() == StatusColumn)
                return QStringLiteral("dropped");
            if (index.column() == SizeColumn)
                return e.size;
            if (index.column() == PreviewColumn)
                return QStringLiteral("%1 record(s) not sent by the broker (monitor too slow or over its rate cap)")
                    .arg(e.size);
            return QString();
        case SortRole:
            return index.column() == TimeColumn ? QVariant(e.timeUs) : QVariant();
        case Qt::ForegroundRole:
            return QBrush(QColor(0x8a, 0x5a, 0x00));
        case PreviewBytesRole:
            return QByteArray();
        default:
            return {};
        }
    }
    switch (role) {
    case Qt::DisplayRole:
    case ExportRole:
        switch (index.column()) {
        case TimeColumn:
            return role == ExportRole ? Format::isoUtc(e.timeUs) : Format::wallClockPrecise(e.timeUs);
        case SourceColumn:
            return QString::fromLatin1(e.source);
        case TargetColumn:
            return QString::fromLatin1(e.target);
        case SizeColumn:
            return e.size;
        case StatusColumn:
            if (e.kind != TrafficEntry::Message)
                return busStatus(e);
            // A held message shows twice: "held" when it was kept, "delivered after 812 ms" (or
            // "expired after 30.0 s") when its name came back or its time ran out.
            if (e.heldMs >= 0)
                return QStringLiteral("%1 after %2").arg(Format::deliveryStatus(e.status), Format::duration(e.heldMs));
            return Format::deliveryStatus(e.status);
        case PreviewColumn:
            return Format::previewText(e.preview);
        }
        return {};
    case SortRole:
        switch (index.column()) {
        case TimeColumn:
            return e.timeUs;
        case SourceColumn:
            return e.source;
        case TargetColumn:
            return e.target;
        case SizeColumn:
            return e.size;
        case StatusColumn:
            return e.status;
        case PreviewColumn:
            return e.preview;
        }
        return {};
    case PreviewBytesRole:
        return e.preview;
    case Qt::ToolTipRole:
        if (index.column() == TimeColumn)
            return Format::isoUtc(e.timeUs);
        if (index.column() == PreviewColumn)
            return Format::previewHex(e.preview);
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() == SizeColumn)
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    case Qt::ForegroundRole:
        if (index.column() == StatusColumn && e.kind == TrafficEntry::Message && e.status == quint16(DeliveryStatus::Held))
            return QBrush(QColor(0x9a, 0x67, 0x00)); // kept, not lost: its outcome follows
        if (index.column() == StatusColumn && isFailure(e))
            return QBrush(QColor(0xc0, 0x1c, 0x28));
        return {};
    default:
        return {};
    }
}

TrafficEntry TrafficModel::toEntry(const MonitorTrafficRecord &record)
{
    TrafficEntry e;
    e.timeUs = record.timeUs;
    e.source = record.source;
    e.target = record.target;
    e.size = record.size;
    e.status = quint16(record.status);
    e.preview = record.preview;
    e.heldMs = record.heldMs < 0 ? -1 : qint32(std::min<qint64>(record.heldMs, std::numeric_limits<qint32>::max()));
    return e;
}

TrafficEntry TrafficModel::toEntry(const MonitorPublicationRecord &record)
{
    TrafficEntry e;
    e.kind = TrafficEntry::Publication;
    e.timeUs = record.timeUs;
    e.source = record.publisher;
    e.target = QByteArrayLiteral("topic:") + record.topic;
    e.size = record.size;
    e.status = record.notTaken ? quint16(DeliveryStatus::TargetQueueFull) : quint16(DeliveryStatus::Delivered);
    e.preview = record.preview;
    e.retain = record.retain;
    e.reached = record.reached;
    e.notTaken = record.notTaken;
    return e;
}

TrafficEntry TrafficModel::toEntry(const MonitorCallRecord &record)
{
    TrafficEntry e;
    e.kind = TrafficEntry::Call;
    e.timeUs = record.timeUs;
    e.source = record.caller;
    e.target = QByteArrayLiteral("call:") + record.callee;
    e.size = record.replySize;
    e.outcome = quint16(record.outcome);
    e.roundTripUs = record.roundTripUs;
    e.status = record.outcome == CallOutcome::Replied || record.outcome == CallOutcome::ErrorReply
        ? quint16(DeliveryStatus::Delivered) : quint16(DeliveryStatus::NoSuchClient);
    return e;
}

QString TrafficModel::busStatus(const TrafficEntry &e)
{
    if (e.kind == TrafficEntry::Publication) {
        QString text = e.reached == 0 && e.notTaken == 0 ? QStringLiteral("no subscriber")
                                                         : QStringLiteral("%1 reached").arg(e.reached);
        if (e.notTaken)
            text += QStringLiteral(", %1 not taken").arg(e.notTaken);
        if (e.retain)
            text += QStringLiteral(", retained");
        return text;
    }
    const char *name = callOutcomeName(CallOutcome(e.outcome));
    const QString outcome = name ? QString::fromLatin1(name) : QStringLiteral("outcome %1").arg(e.outcome);
    if (e.roundTripUs == 0)
        return outcome;
    const QString ms = QString::number(double(e.roundTripUs) / 1000.0, 'f', e.roundTripUs < 10000 ? 2 : 0);
    const bool replied = e.outcome == quint16(CallOutcome::Replied) || e.outcome == quint16(CallOutcome::ErrorReply);
    return replied ? QStringLiteral("%1 in %2 ms").arg(outcome, ms) : QStringLiteral("%1 after %2 ms").arg(outcome, ms);
}

bool TrafficModel::isFailure(const TrafficEntry &e)
{
    switch (e.kind) {
    case TrafficEntry::Publication:
        return e.notTaken > 0;
    case TrafficEntry::Call:
        return e.outcome != quint16(CallOutcome::Replied);
    case TrafficEntry::Message:
        break;
    }
    return e.status != quint16(DeliveryStatus::Delivered);
}

QByteArray TrafficModel::intern(const QByteArray &name)
{
    if (name.isEmpty())
        return {};
    auto it = m_names.constFind(name);
    if (it != m_names.constEnd())
        return *it;
    if (m_names.size() >= MaxInternedNames)
        m_names.clear();
    QByteArray copy(name.constData(), name.size()); // detached from the decoded frame's buffer
    m_names.insert(copy, copy);
    return copy;
}

void TrafficModel::append(const QList<MonitorTrafficRecord> &records)
{
    QList<TrafficEntry> entries;
    entries.reserve(records.size());
    for (const MonitorTrafficRecord &r : records)
        entries.append(toEntry(r));
    appendEntries(std::move(entries));
}

void TrafficModel::appendDropMarker(qint64 timeMs, quint32 dropped)
{
    TrafficEntry e;
    e.timeUs = timeMs * 1000;
    e.size = dropped;
    e.marker = true;
    appendEntries({e});
}

void TrafficModel::appendEntries(QList<TrafficEntry> entries)
{
    if (entries.isEmpty())
        return;
    for (TrafficEntry &e : entries) {
        if (e.marker)
            m_droppedByBroker += e.size;
        else
            ++m_received;
        e.source = intern(e.source);
        e.target = intern(e.target);
        // The preview may be a view into a whole decoded batch; keep only its own bytes.
        if (!e.preview.isEmpty())
            e.preview = QByteArray(e.preview.constData(), e.preview.size());
    }
    if (m_paused) {
        for (TrafficEntry &e : entries) {
            if (m_held.push(std::move(e)))
                ++m_overwritten;
        }
        Q_EMIT countersChanged();
        return;
    }
    show(entries);
    Q_EMIT countersChanged();
}

void TrafficModel::show(QList<TrafficEntry> &entries)
{
    qsizetype first = 0;
    qsizetype count = entries.size();
    const qsizetype cap = m_rows.capacity();
    if (count > cap) {
        // More than the ring holds: only the newest `cap` would survive, so only they are shown.
        m_overwritten += quint64(count - cap);
        first = count - cap;
        count = cap;
    }
    const qsizetype overflow = m_rows.size() + count - cap;
    if (overflow > 0) {
        beginRemoveRows({}, 0, int(overflow - 1));
        m_rows.dropOldest(overflow);
        m_overwritten += quint64(overflow);
        endRemoveRows();
    }
    const int at = int(m_rows.size());
    beginInsertRows({}, at, at + int(count) - 1);
    for (qsizetype i = first; i < entries.size(); ++i)
        m_rows.push(std::move(entries[i]));
    endInsertRows();
}

void TrafficModel::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (!paused && !m_held.isEmpty()) {
        QList<TrafficEntry> held;
        held.reserve(m_held.size());
        for (qsizetype i = 0; i < m_held.size(); ++i)
            held.append(std::move(m_held[i]));
        m_held.clear();
        show(held);
        Q_EMIT countersChanged();
    }
    Q_EMIT pausedChanged(paused);
}

void TrafficModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_held.clear();
    m_names.clear();
    m_received = 0;
    m_overwritten = 0;
    m_droppedByBroker = 0;
    endResetModel();
    Q_EMIT countersChanged();
}

} // namespace Kennel
