// RateSeries: messages per second and bytes per second over the last few minutes, derived from
// the broker's periodic Totals (cumulative counters: each pair of Totals gives one sample). A table
// model (time, msg/s, bytes/s) so that it can be checked like the others and listed if wanted;
// RateChart paints it.
#pragma once

#include "monitorcodec.h"
#include "ringbuffer.h"

#include <QAbstractTableModel>
#include <QList>

#include <chrono>
#include <optional>

namespace Kennel {

class RateSeries : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { TimeColumn, MessagesColumn, BytesColumn, ColumnCount };
    struct Sample
    {
        qint64 timeMs = 0; // wall clock of the later Totals
        double messagesPerSecond = 0;
        double bytesPerSecond = 0;
    };

    explicit RateSeries(std::chrono::seconds window = std::chrono::minutes(5), QObject *parent = nullptr);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // In order of arrival. Counters that go backwards (a restarted broker) or a gap longer than a
    // minute (a reconnect) start a new baseline instead of producing a nonsense rate.
    void addTotals(const QList<MonitorTotals> &totals);
    void clear();

    std::chrono::seconds window() const { return m_window; }
    qsizetype count() const { return m_samples.size(); }
    const Sample &sample(int i) const { return m_samples.at(i); }
    double peakMessages() const; // over the samples held; 0 when none
    double peakBytes() const;

    // Sample i averaged over the samples of the SmoothingMs before it (a moving window): at a few
    // messages a second the raw per-second rates are a comb of 0, 1 and 2.
    static constexpr qint64 SmoothingMs = 10 * 1000;
    Sample smoothed(int i) const;
    double peakSmoothedMessages() const; // the largest smoothed values; 0 when none
    double peakSmoothedBytes() const;
    std::optional<MonitorTotals> lastTotals() const { return m_last; }

Q_SIGNALS:
    void samplesChanged();

private:
    std::chrono::seconds m_window;
    RingBuffer<Sample> m_samples;
    std::optional<MonitorTotals> m_last;
};

} // namespace Kennel
