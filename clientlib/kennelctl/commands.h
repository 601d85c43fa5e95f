// The two things kennelctl does, each a small state machine around one KennelClient.
#pragma once

#include <brokeraddress.h>

#include <QByteArray>
#include <QByteArrayView>

namespace KennelCtl {

// Part of the interface: scripts and tests branch on them (docs/KENNELCTL.md).
enum ExitCode {
    ExitOk = 0,
    ExitUsage = 2,          // bad arguments, invalid address or name, message too large
    ExitCannotConnect = 3,  // could not connect or register (refused, name taken, ...)
    ExitTimeout = 4,        // --timeout passed first
    ExitConnectionLost = 5, // the broker went away after registration
    ExitNotAdmitted = 6,    // operator commands: the broker refused this monitor (no uid match, wrong token)
    ExitRefused = 7,        // operator commands: no such service or client, or the action was refused
    ExitReadOnly = 9,       // operator commands: a control refused because this monitor is read-only
    ExitStatusBase = 10,    // send: 10 + the DeliveryStatus value for refusals (11 no_such_client, ...)
};

struct SendOptions
{
    Kennel::BrokerAddress broker;
    QByteArray name;    // ours
    QByteArray target;
    QByteArray text;
    int timeoutMs = 5000;
};

struct ListenOptions
{
    Kennel::BrokerAddress broker;
    QByteArray name;
    int count = 0;     // 0: until interrupted
    int timeoutMs = 0; // 0: no limit
    bool reconnect = false;
};

// Both run an event loop and return the process exit code.
int runSend(const SendOptions &options);
int runListen(const ListenOptions &options);

// One message on one line: printable UTF-8 passes, every other byte and '\' become \xNN / "\\".
QByteArray escapeForLine(QByteArrayView payload);

} // namespace KennelCtl
