#include "rateseries.h"

#include "format.h"

#include <QDateTime>

#include <algorithm>

namespace Kennel {

namespace {
// Totals come about once a second; room for four a second over the window covers a broker
// configured faster, and the ring bounds memory whatever it does.
constexpr qsizetype SamplesPerSecond = 4;
constexpr qint64 MaxGapMs = 60 * 1000;
} // namespace

RateSeries::RateSeries(std::chrono::seconds window, QObject *parent)
    : QAbstractTableModel(parent)
    , m_window(std::max(window, std::chrono::seconds(10)))
    , m_samples(qsizetype(m_window.count()) * SamplesPerSecond)
{
}

int RateSeries::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_samples.size());
}

int RateSeries::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RateSeries::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case TimeColumn:
        return QStringLiteral("Time");
    case MessagesColumn:
        return QStringLiteral("Messages/s");
    case BytesColumn:
        return QStringLiteral("Bytes/s");
    }
    return {};
}

QVariant RateSeries::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Sample &s = m_samples.at(index.row());
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case TimeColumn:
            return QDateTime::fromMSecsSinceEpoch(s.timeMs).toString(QStringLiteral("HH:mm:ss"));
        case MessagesColumn:
            return Format::rate(s.messagesPerSecond, false);
        case BytesColumn:
            return Format::rate(s.bytesPerSecond, true);
        }
    } else if (role == Qt::UserRole) {
        switch (index.column()) {
        case TimeColumn:
            return s.timeMs;
        case MessagesColumn:
            return s.messagesPerSecond;
        case BytesColumn:
            return s.bytesPerSecond;
        }
    }
    return {};
}

void RateSeries::addTotals(const QList<MonitorTotals> &totals)
{
    QList<Sample> fresh;
    for (const MonitorTotals &t : totals) {
        if (m_last) {
            const qint64 dt = t.timeMs - m_last->timeMs;
            const bool backwards = t.messagesRouted < m_last->messagesRouted || t.bytesRouted < m_last->bytesRouted;
            if (dt > 0 && dt <= MaxGapMs && !backwards) {
                const double seconds = double(dt) / 1000.0;
                fresh.append(Sample{t.timeMs, double(t.messagesRouted - m_last->messagesRouted) / seconds,
                                    double(t.bytesRouted - m_last->bytesRouted) / seconds});
            } else if (dt <= 0 && !backwards) {
                continue; // a duplicate or out-of-order Totals: keep the older baseline
            }
        }
        m_last = t;
    }
    if (fresh.isEmpty())
        return;

    // Everything older than the window before the newest sample goes, and what the ring could
    // not hold anyway.
    const qint64 horizon = fresh.last().timeMs - qint64(m_window.count()) * 1000;
    qsizetype stale = 0;
    while (stale < m_samples.size() && m_samples.at(stale).timeMs < horizon)
        ++stale;
    qsizetype freshFirst = 0;
    while (freshFirst < fresh.size() && fresh.at(freshFirst).timeMs < horizon)
        ++freshFirst;
    const qsizetype incoming = std::min(fresh.size() - freshFirst, m_samples.capacity());
    freshFirst = fresh.size() - incoming;
    stale = std::max(stale, m_samples.size() + incoming - m_samples.capacity());
    if (stale > 0) {
        beginRemoveRows({}, 0, int(stale - 1));
        m_samples.dropOldest(stale);
        endRemoveRows();
    }
    if (incoming > 0) {
        const int at = int(m_samples.size());
        beginInsertRows({}, at, at + int(incoming) - 1);
        for (qsizetype i = freshFirst; i < fresh.size(); ++i)
            m_samples.push(fresh.at(i));
        endInsertRows();
    }
    Q_EMIT samplesChanged();
}

void RateSeries::clear()
{
    beginResetModel();
    m_samples.clear();
    m_last.reset();
    endResetModel();
    Q_EMIT samplesChanged();
}

double RateSeries::peakMessages() const
{
    double peak = 0;
    for (qsizetype i = 0; i < m_samples.size(); ++i)
        peak = std::max(peak, m_samples.at(i).messagesPerSecond);
    return peak;
}

double RateSeries::peakBytes() const
{
    double peak = 0;
    for (qsizetype i = 0; i < m_samples.size(); ++i)
        peak = std::max(peak, m_samples.at(i).bytesPerSecond);
    return peak;
}

RateSeries::Sample RateSeries::smoothed(int i) const
{
    const Sample &last = m_samples.at(i);
    Sample out{last.timeMs, 0, 0};
    int n = 0;
    for (int j = i; j >= 0 && last.timeMs - m_samples.at(j).timeMs < SmoothingMs; --j, ++n) {
        out.messagesPerSecond += m_samples.at(j).messagesPerSecond;
        out.bytesPerSecond += m_samples.at(j).bytesPerSecond;
    }
    out.messagesPerSecond /= n;
    out.bytesPerSecond /= n;
    return out;
}

double RateSeries::peakSmoothedMessages() const
{
    double peak = 0;
    for (qsizetype i = 0; i < m_samples.size(); ++i)
        peak = std::max(peak, smoothed(int(i)).messagesPerSecond);
    return peak;
}

double RateSeries::peakSmoothedBytes() const
{
    double peak = 0;
    for (qsizetype i = 0; i < m_samples.size(); ++i)
        peak = std::max(peak, smoothed(int(i)).bytesPerSecond);
    return peak;
}

} // namespace Kennel
