// TrafficDetailView: one traffic record in full, beside the traffic table — time, source ->
// target, size, status, and the whole preview as hex and ASCII side by side (hexdump's layout,
// MQTT Explorer's value view as the anchor). The table's one-line preview cannot show where text
// ends and binary begins.
#pragma once

#include <QPlainTextEdit>

QT_BEGIN_NAMESPACE
class QModelIndex;
QT_END_NAMESPACE

namespace Kennel {

class TrafficDetailView : public QPlainTextEdit
{
    Q_OBJECT
public:
    // Half of hexdump's 16: the pane then fits beside the traffic table at 1024 px.
    static constexpr int BytesPerLine = 8;

    explicit TrafficDetailView(QWidget *parent = nullptr);

    // A row of TrafficModel (or a proxy over it); an invalid index or a "records dropped" row
    // clears the view.
    void showRecord(const QModelIndex &index);
};

} // namespace Kennel
