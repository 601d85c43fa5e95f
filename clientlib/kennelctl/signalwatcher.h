// Turns SIGINT and SIGTERM into a Qt signal, so that kennelctl can say Bye and exit 0 instead of
// dying mid-write. The handler only writes a byte to a socket pair (the one async-signal-safe
// thing worth doing); a QSocketNotifier picks it up in the event loop.
#pragma once

#include <QObject>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

class SignalWatcher : public QObject
{
    Q_OBJECT

public:
    // One instance per process: the handler has nowhere else to find the socket.
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

    bool isActive() const { return m_notifier != nullptr; }

Q_SIGNALS:
    void terminationRequested(int signalNumber);

private:
    void readSignal();

    QSocketNotifier *m_notifier = nullptr;
};
