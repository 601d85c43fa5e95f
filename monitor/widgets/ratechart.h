// RateChart: the broker's messages/s and bytes/s over the last minutes, two lines on one time
// axis, each on its own scale (messages on the left, bytes on the right). Painted by hand with
// QPainter (no QtCharts dependency on the board's build machines); repainted when RateSeries
// gains samples, i.e. about once a second.
#pragma once

#include <QList>
#include <QPair>
#include <QPointer>
#include <QString>
#include <QWidget>

namespace Kennel {

class RateSeries;

class RateChart : public QWidget
{
    Q_OBJECT
public:
    explicit RateChart(RateSeries *series, QWidget *parent = nullptr);

    // A round top for an axis at or above `peak` (never below `minimum`), in steps that read as
    // round numbers. Every axis starts at 0.
    struct Axis
    {
        double top = 1;
        int steps = 4;
    };
    static Axis axisFor(double peak, double minimum);
    // Full scale at least this much: an idle broker is a flat line at the bottom, not noise blown
    // up to the whole height. Small, so that a low byte rate is not squashed at the bottom.
    static constexpr double MinimumMessagesScale = 1.0;
    static constexpr double MinimumBytesScale = 10.0;
    // The time axis: a tick every minute (or 10 s for short windows), labelled from "−N min" to
    // "now"; as (milliseconds before now, label).
    static QList<QPair<qint64, QString>> timeTicks(qint64 windowMs);

    QSize sizeHint() const override { return {360, 160}; }
    QSize minimumSizeHint() const override { return {200, 100}; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QPointer<RateSeries> m_series;
};

} // namespace Kennel
