// The status bar's permanent part: a drawn dot in the link's colour and the link's own words for
// what it is doing (connecting, live, reconnecting in N s, why it failed). Drawn rather than
// loaded, so it shows whatever image plugins are installed.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
QT_END_NAMESPACE

namespace Kennel {

class MonitorLink;

class LinkStatus : public QWidget
{
    Q_OBJECT
public:
    explicit LinkStatus(QWidget *parent = nullptr);

    QLabel *label() const { return m_label; }
    void showLink(const MonitorLink *link); // null: no link

private:
    QLabel *m_icon = nullptr;
    QLabel *m_label = nullptr;
};

} // namespace Kennel
