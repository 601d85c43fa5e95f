#include "ratechart.h"

#include "format.h"
#include "rateseries.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace Kennel {

namespace {

const QColor MessagesColour(0x1f, 0x6f, 0xd0);
const QColor BytesColour(0xd0, 0x6a, 0x1f);

QString messagesLabel(double value, double step)
{
    return QString::number(value, 'f', step < 1 ? (step < 0.1 ? 3 : 2) : 0);
}

} // namespace

// 1, 2 or 5 × 10^n at or above the peak, split into steps that read as round numbers too
// (quarters of 1 and 2, fifths of 5).
RateChart::Axis RateChart::axisFor(double peak, double minimum)
{
    const double value = std::max(peak, minimum);
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (double lead : {1.0, 2.0, 5.0, 10.0}) {
        if (lead * magnitude >= value * 0.999)
            return Axis{lead * magnitude, lead == 5.0 ? 5 : 4};
    }
    return Axis{10 * magnitude, 4};
}

QList<QPair<qint64, QString>> RateChart::timeTicks(qint64 windowMs)
{
    const qint64 step = windowMs > 2 * 60 * 1000 ? 60 * 1000 : 10 * 1000;
    QList<QPair<qint64, QString>> ticks;
    for (qint64 before = (windowMs / step) * step; before > 0; before -= step)
        ticks.append({before, QStringLiteral("−%1").arg(Format::duration(before))});
    ticks.append({0, QStringLiteral("now")});
    return ticks;
}

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
    // The lines are smoothed; the scale fits them, not the raw spikes.
    const Axis messagesAxis = axisFor(series ? series->peakSmoothedMessages() : 0, MinimumMessagesScale);
    const Axis bytesAxis = axisFor(series ? series->peakSmoothedBytes() : 0, MinimumBytesScale);
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
    // The time axis: a labelled tick per minute, the labels kept inside the plot's width.
    const QList<QPair<qint64, QString>> ticks = timeTicks(windowMs);
    for (const auto &[before, label] : ticks) {
        const int tx = plot.right() - int(double(before) / double(windowMs) * plot.width());
        p.setPen(QPen(grid, 1));
        p.drawLine(tx, plot.top(), tx, plot.bottom());
        p.setPen(text);
        const int w = fm.horizontalAdvance(label) + 2;
        const int left = std::clamp(tx - w / 2, plot.left(), plot.right() - w);
        p.drawText(QRect(left, plot.bottom() + 2, w, fm.height() + 2), Qt::AlignCenter, label);
    }

    // Legend with the latest values.
    const RateSeries::Sample last = n > 0 ? series->smoothed(int(n - 1)) : RateSeries::Sample{};
    p.setPen(MessagesColour);
    p.drawText(QRect(plot.left(), 2, plot.width() / 2, fm.height() + 2), Qt::AlignLeft,
               QStringLiteral("■ messages: %1").arg(Format::rate(last.messagesPerSecond, false)));
    p.setPen(text);
    p.drawText(QRect(plot.left(), 2, plot.width(), fm.height() + 2), Qt::AlignHCenter,
               QStringLiteral("%1 s average").arg(RateSeries::SmoothingMs / 1000));
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
            const RateSeries::Sample s = series->smoothed(int(i));
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
