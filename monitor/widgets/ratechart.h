// RateChart: the broker's messages/s and bytes/s over the last minutes, two lines on one time
// axis, each on its own scale (messages on the left, bytes on the right). Painted by hand with
// QPainter (no QtCharts dependency on the board's build machines); repainted when RateSeries
// gains samples, i.e. about once a second.
#pragma once

#include <QPointer>
#include <QWidget>

namespace Kennel {

class RateSeries;

class RateChart : public QWidget
{
    Q_OBJECT
public:
    explicit RateChart(RateSeries *series, QWidget *parent = nullptr);

    QSize sizeHint() const override { return {360, 160}; }
    QSize minimumSizeHint() const override { return {200, 100}; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QPointer<RateSeries> m_series;
};

} // namespace Kennel
