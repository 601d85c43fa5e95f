// kennelctl call and serve: request/reply from the shell (PROTOCOL §5.6, docs/KENNELCTL.md).
#pragma once

#include "commands.h"

#include <frame.h>

#include <QStringList>

namespace KennelCtl {

// call: 20 + the CallOutcome value for the broker's and the callee's refusals (21 error_reply,
// 23 no_such_client, 24 callee_gone, ...); a timeout is ExitTimeout (4) wherever it happens.
constexpr int ExitCallBase = 20;
// A call the broker's access policy denies exits as a denied send does (10 + policy_denied 18):
// one code for "the policy said no" whichever command met it. 20 + invalid_target (8) never
// comes from call: it refuses an empty or invalid NAME itself, with ExitUsage.
constexpr int ExitCallDenied = ExitStatusBase + int(Kennel::DeliveryStatus::PolicyDenied);
static_assert(ExitCallDenied == 28, "docs/KENNELCTL.md");

struct CallOptions
{
    Kennel::BrokerAddress broker;
    QByteArray name;     // ours
    QByteArray target;
    QByteArray payload;
    int timeoutMs = 5000; // the call's deadline; connecting gets as long again
};

struct ServeOptions
{
    Kennel::BrokerAddress broker;
    QByteArray name;
    QString program;
    QStringList arguments;
    int jobs = 4;      // commands running at once; a call beyond them is answered busy
    int count = 0;     // 0: until interrupted; else exit after answering this many calls
    bool reconnect = false;
};

int runCall(const CallOptions &options);
int runServe(const ServeOptions &options);

} // namespace KennelCtl
