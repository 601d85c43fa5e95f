#include "ratechart.h"

#include "format.h"
#include "rateseries.h"

#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace Kennel {

namespace {

const QColor MessagesColour(0x1f, 0x6f, 0xd0);
const QColor BytesColour(0xd0, 0x6a, 0x1f);

// A round top for an axis: 1, 2 or 5 × 10^n at or above `value`, split into steps that read as
// round numbers too (quarters of 1 and 2, fifths of 5).
struct Axis
{
    double top = 1;
    int steps = 4;
};

Axis niceAxis(double value, double minimum)
{
    value = std::max(value, minimum);
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (double lead : {1.0, 2.0, 5.0, 10.0}) {
        if (lead * magnitude >= value * 0.999)
            return Axis{lead * magnitude, lead == 5.0 ? 5 : 4};
    }
    return Axis{10 * magnitude, 4};
}

QString messagesLabel(double value, double step)
{
    return QString::number(value, 'f', step < 1 ? (step < 0.1 ? 3 : 2) : 0);
}

} // namespace

RateChart::RateChart(RateSeries *series, QWidget *parent)
    : QWidget(parent)
    , m_series(series)
{
    setObjectName(QStringLiteral("rateChart"));
    setAttribute(Qt::WA_OpaquePaintEvent);
    if (series)
        connect(series, &RateSeries::samplesChanged, this, qOverload<>(&QWidget::update));
}

void RateChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().color(QPalette::Base));
    p.setRenderHint(QPainter::Antialiasing, true);
    const QFontMetrics fm = fontMetrics();
    const int labelWidth = fm.horizontalAdvance(QStringLiteral("999.9 KiB/s")) + 6;
    const QRect plot = rect().adjusted(labelWidth, fm.height() + 6, -labelWidth, -fm.height() - 4);
    if (plot.width() < 20 || plot.height() < 20)
        return;

    const RateSeries *series = m_series.data();
    const qsizetype n = series ? series->count() : 0;
    // At least 1 msg/s and 1 KiB/s full scale: an idle broker is a flat line at the bottom, not
    // noise blown up to the whole height.
    const Axis messagesAxis = niceAxis(series ? series->peakMessages() : 0, 1.0);
    const Axis bytesAxis = niceAxis(series ? series->peakBytes() : 0, 1024.0);
    const double maxMessages = messagesAxis.top;
    const double maxBytes = bytesAxis.top;
    const qint64 windowMs = series ? qint64(series->window().count()) * 1000 : 300000;
    const qint64 newest = n > 0 ? series->sample(int(n - 1)).timeMs : 0;

    // Grid and axes.
    const QColor text = palette().color(QPalette::Text);
    QColor grid = text;
    grid.setAlpha(40);
    p.setPen(QPen(grid, 1));
    for (int i = 0; i <= 4; ++i) {
        const int y = plot.bottom() - plot.height() * i / 4;
        p.drawLine(plot.left(), y, plot.right(), y);
    }
    // Each axis labels its own round steps; the grid follows the left one's quarters.
    p.setPen(MessagesColour);
    for (int i = 0; i <= messagesAxis.steps; ++i) {
        const int y = plot.bottom() - plot.height() * i / messagesAxis.steps;
        const double step = maxMessages / messagesAxis.steps;
        p.drawText(QRect(0, y - fm.height() / 2, labelWidth - 4, fm.height()), Qt::AlignRight | Qt::AlignVCenter,
                   messagesLabel(step * i, step));
    }
    p.setPen(BytesColour);
    for (int i = 0; i <= bytesAxis.steps; ++i) {
        const int y = plot.bottom() - plot.height() * i / bytesAxis.steps;
        p.drawText(QRect(plot.right() + 4, y - fm.height() / 2, labelWidth - 4, fm.height()), Qt::AlignLeft | Qt::AlignVCenter,
                   Format::bytes(quint64(maxBytes * i / bytesAxis.steps + 0.5)));
    }
    p.setPen(text);
    p.drawText(QRect(plot.left(), plot.bottom() + 2, plot.width(), fm.height() + 2), Qt::AlignLeft,
               QStringLiteral("−%1").arg(Format::duration(windowMs)));
    p.drawText(QRect(plot.left(), plot.bottom() + 2, plot.width(), fm.height() + 2), Qt::AlignRight, QStringLiteral("now"));

    // Legend with the latest values.
    const RateSeries::Sample last = n > 0 ? series->sample(int(n - 1)) : RateSeries::Sample{};
    p.setPen(MessagesColour);
    p.drawText(QRect(plot.left(), 2, plot.width() / 2, fm.height() + 2), Qt::AlignLeft,
               QStringLiteral("■ messages: %1").arg(Format::rate(last.messagesPerSecond, false)));
    p.setPen(BytesColour);
    p.drawText(QRect(plot.left() + plot.width() / 2, 2, plot.width() / 2, fm.height() + 2), Qt::AlignRight,
               QStringLiteral("■ bytes: %1").arg(Format::rate(last.bytesPerSecond, true)));

    if (n < 1) {
        p.setPen(grid.darker());
        p.drawText(plot, Qt::AlignCenter, QStringLiteral("waiting for the broker's totals…"));
        return;
    }
    auto x = [&](qint64 t) { return plot.right() - double(newest - t) / double(windowMs) * plot.width(); };
    auto line = [&](double maxValue, double RateSeries::Sample::*field) {
        QPainterPath path;
        for (qsizetype i = 0; i < n; ++i) {
            const RateSeries::Sample &s = series->sample(int(i));
            const QPointF point(x(s.timeMs), plot.bottom() - (s.*field) / maxValue * plot.height());
            if (i == 0)
                path.moveTo(point);
            else
                path.lineTo(point);
        }
        return path;
    };
    p.setClipRect(plot.adjusted(-1, -1, 1, 1));
    p.setPen(QPen(BytesColour, 1.5));
    p.drawPath(line(maxBytes, &RateSeries::Sample::bytesPerSecond));
    p.setPen(QPen(MessagesColour, 2));
    p.drawPath(line(maxMessages, &RateSeries::Sample::messagesPerSecond));
}

} // namespace Kennel
