#include "trafficdetailview.h"

#include "format.h"
#include "trafficmodel.h"

#include <QFontDatabase>
#include <QModelIndex>
#include <QScrollBar>

namespace Kennel {

TrafficDetailView::TrafficDetailView(QWidget *parent)
    : QPlainTextEdit(parent)
{
    setObjectName(QStringLiteral("trafficDetail"));
    setReadOnly(true);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setPlaceholderText(QStringLiteral("Select a record to see its preview as hex and ASCII"));
    // Wide enough for a whole dump line, so that hex and ASCII sit side by side.
    const QFontMetrics mono(font());
    setMinimumWidth(mono.horizontalAdvance(QString(14 + 4 * BytesPerLine, u'0')) + 2 * frameWidth()
                    + verticalScrollBar()->sizeHint().width());
}

void TrafficDetailView::showRecord(const QModelIndex &index)
{
    if (!index.isValid() || index.data(TrafficModel::MarkerRole).toBool()) {
        clear();
        return;
    }
    auto cell = [&](int column) { return index.siblingAtColumn(column).data().toString(); };
    const QByteArray preview = index.data(TrafficModel::PreviewBytesRole).toByteArray();
    const qint64 size = index.siblingAtColumn(TrafficModel::SizeColumn).data(TrafficModel::SortRole).toLongLong();
    QString text = QStringLiteral("%1  %2 → %3  %4  %5\n")
                       .arg(cell(TrafficModel::TimeColumn), cell(TrafficModel::SourceColumn), cell(TrafficModel::TargetColumn),
                            Format::count(size, "byte", "bytes"), cell(TrafficModel::StatusColumn));
    if (preview.size() < size)
        text += QStringLiteral("preview: the first %1 (the broker's traffic_preview_bytes)\n")
                    .arg(Format::count(preview.size(), "byte", "bytes"));
    text += u'\n' + Format::hexDump(preview, BytesPerLine);
    setPlainText(text);
}

} // namespace Kennel
