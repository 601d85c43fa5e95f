// kennelctl logs SERVICE [-n N] [--follow]: a supervised service's recent output, read from the
// broker's ring of its lines through the privileged monitor stream (PROTOCOL §6.5). Admission as
// for kennel-monitor: the Unix peer uid (root or the broker's user), or --token-file.
#pragma once

#include "commands.h"

#include <QString>

namespace KennelCtl {

struct LogsOptions
{
    Kennel::BrokerAddress broker;
    QByteArray service;
    int lines = 20;        // the newest N; 0: all the broker keeps
    bool follow = false;   // then poll for new lines until interrupted
    QString tokenFile;     // empty: no token (Unix peer uid)
    int timeoutMs = 5000;  // to be admitted and answered
    int pollMs = 500;      // --follow
};

// Prints "TIME STREAM TEXT" per line (TIME as yyyy-MM-dd hh:mm:ss.zzz, local; STREAM "out"/"err";
// TEXT escaped as listen does) and, on stderr, a note when lines fell off before the first one
// shown. Exit codes as commands.h; an unknown service is ExitUsage, not admitted ExitCannotConnect.
int runLogs(const LogsOptions &options);

} // namespace KennelCtl
