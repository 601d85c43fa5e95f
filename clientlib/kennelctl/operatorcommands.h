// kennelctl's operator side: status, clients, services, start/stop/restart, disconnect, watch and
// sniff over the broker's privileged monitor stream (MonitorSession). Each runs an event loop and
// returns the process exit code (docs/KENNELCTL.md, "Exit status").
#pragma once

#include "monitorsession.h"

#include <monitorcodec.h>

#include <QByteArrayList>

namespace KennelCtl {

struct OperatorOptions
{
    MonitorOptions monitor;
    bool json = false;
    int timeoutMs = 0;      // 0: the command's default (5000 ms for one-shot commands, none for streams)
    int count = 0;          // watch, sniff: exit after this many lines (0: until interrupted)
    QByteArrayList names;   // sniff: only traffic from or to these clients (empty: all)
};

int runStatus(const OperatorOptions &options);
int runClients(const OperatorOptions &options);
int runServices(const OperatorOptions &options);
// start, stop, restart SERVICE; disconnect NAME: one MonitorControl and its result.
int runControl(const OperatorOptions &options, Kennel::MonitorControlAction action, const QByteArray &target);
int runWatch(const OperatorOptions &options);
int runSniff(const OperatorOptions &options);

} // namespace KennelCtl
