// The traffic tab: source/target/text filters, follow, pause/resume, clear, text or hex preview,
// the record table with the selected record's detail, and a status line that says how much is
// shown, held back or was not sent by the broker.
#pragma once

#include <QWidget>

QT_BEGIN_NAMESPACE
class QAction;
class QCheckBox;
class QLabel;
class QLineEdit;
class QTableView;
QT_END_NAMESPACE

namespace Kennel {

class TrafficDetailView;
class TrafficFilterProxy;
class TrafficModel;

class TrafficPanel : public QWidget
{
    Q_OBJECT
public:
    explicit TrafficPanel(TrafficModel *traffic, QWidget *parent = nullptr);

    TrafficFilterProxy *proxy() const { return m_proxy; }
    QTableView *view() const { return m_view; }
    TrafficDetailView *detail() const { return m_detail; }
    QLineEdit *sourceEdit() const { return m_source; }
    QLineEdit *targetEdit() const { return m_target; }
    QLineEdit *textEdit() const { return m_text; }
    QAction *pauseAction() const { return m_pauseAction; }
    QAction *clearAction() const { return m_clearAction; }
    QAction *hexAction() const { return m_hexAction; }
    QAction *exportAction() const { return m_exportAction; }

    // Messages from that client; the target filter is cleared so that nothing else narrows the view.
    void showMessagesFrom(const QByteArray &clientName);

Q_SIGNALS:
    void exportRequested();

private:
    void updateStatus();
    void updateDetail();

    TrafficModel *m_traffic;
    TrafficFilterProxy *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QLineEdit *m_source = nullptr;
    QLineEdit *m_target = nullptr;
    QLineEdit *m_text = nullptr;
    QCheckBox *m_follow = nullptr;
    QLabel *m_status = nullptr;
    TrafficDetailView *m_detail = nullptr;
    QAction *m_pauseAction = nullptr;
    QAction *m_clearAction = nullptr;
    QAction *m_hexAction = nullptr;
    QAction *m_exportAction = nullptr;
};

} // namespace Kennel
