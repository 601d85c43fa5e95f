// Turns SIGINT/SIGTERM (and any other signal asked for) into a Qt signal delivered by the event
// loop: the handler only writes the signal number to a socket pair, the one thing that is safe
// to do inside a signal handler.
#pragma once

#include "kennel_export.h"

#include <QObject>

class QSocketNotifier;

namespace Kennel {

class KENNEL_CLIENT_EXPORT UnixSignalWatcher : public QObject
{
    Q_OBJECT
public:
    explicit UnixSignalWatcher(QObject *parent = nullptr);
    ~UnixSignalWatcher() override;

    bool watch(int signalNumber);

signals:
    void received(int signalNumber);

private:
    void drain();

    QSocketNotifier *m_notifier = nullptr;
};

} // namespace Kennel
