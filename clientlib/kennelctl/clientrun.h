// What each of kennelctl's client commands (send, listen, call, serve, pub, sub) does around its
// one KennelClient: the client set up for the broker and the name, an event loop run until the
// command finishes with its exit code (saying Bye first), SIGINT and SIGTERM where the command
// runs until interrupted, and the connect that starts it all. What a command waits for and what
// it reports stays with the command.
#pragma once

#include "commands.h"

#include <kennelclient.h>
#include <unixsignalwatcher.h>

#include <QEventLoop>

#include <chrono>
#include <memory>
#include <optional>

namespace KennelCtl {

class ClientRun
{
public:
    // Without `connectTimeout`, the library's.
    ClientRun(const Kennel::BrokerAddress &broker, const QByteArray &name,
              std::optional<std::chrono::milliseconds> connectTimeout = std::nullopt);

    // SIGINT and SIGTERM end the run with ExitOk (commands that run until interrupted).
    void finishOnSignals();

    // Ends the run with `code`; the first call wins. Says Bye to the broker and leaves the loop.
    void finish(int code);
    bool isFinished() const { return m_exitCode >= 0; }

    // Connects and runs the loop until finish(); returns the exit code. A command that finished
    // while connecting (refused at once, with the reason reported) does not start the loop; with
    // `refusedAtOnceFails`, neither does one left disconnected with no reconnect pending.
    int exec(bool refusedAtOnceFails);

    Kennel::KennelClient client;
    QEventLoop loop;

private:
    std::unique_ptr<Kennel::UnixSignalWatcher> m_signals;
    int m_exitCode = -1;
};

} // namespace KennelCtl
