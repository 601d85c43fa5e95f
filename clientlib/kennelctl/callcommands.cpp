#include "callcommands.h"

#include "clientrun.h"

#include <QHash>
#include <QPointer>
#include <QProcess>
#include <QTimer>

#include <cstdio>
#include <memory>

using Kennel::IncomingCall;
using Kennel::KennelClient;
using Kennel::PendingCall;

namespace KennelCtl {

namespace {

// Application error codes serve answers with (the caller sees them with error_reply).
constexpr quint16 ServeBusy = 503;     // every --jobs slot is taken
constexpr quint16 ServeCannotRun = 127; // the command could not be started
// What of a failing command's standard error goes into its error reply.
constexpr qsizetype MaxErrorText = 1000;

void report(const QString &text)
{
    const QByteArray line = QByteArrayLiteral("kennelctl: ") + text.toUtf8() + '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
}

} // namespace

int runCall(const CallOptions &options)
{
    ClientRun run(options.broker, options.name, std::chrono::milliseconds(options.timeoutMs));
    KennelClient &client = run.client;
    QEventLoop &loop = run.loop;
    bool registered = false;
    const auto finish = [&run](int code) { run.finish(code); };
    // The broker ends the call at its deadline; this one covers connecting and a broker that
    // never answers.
    QTimer deadline;
    deadline.setSingleShot(true);
    QObject::connect(&deadline, &QTimer::timeout, &loop, [&] {
        report(registered ? QStringLiteral("no answer from the broker within %1 ms").arg(options.timeoutMs)
                          : QStringLiteral("timed out after %1 ms connecting to %2").arg(options.timeoutMs).arg(options.broker.toString()));
        finish(ExitTimeout);
    });
    QObject::connect(&client, &KennelClient::registered, &loop, [&] {
        registered = true;
        deadline.start(options.timeoutMs + 2000);
        PendingCall *call = client.call(options.target, options.payload, options.timeoutMs);
        QObject::connect(call, &PendingCall::finished, &loop, [&](PendingCall *done) {
            switch (done->result()) {
            case PendingCall::Replied:
                std::fwrite(done->reply().constData(), 1, size_t(done->reply().size()), stdout);
                std::fflush(stdout);
                finish(ExitOk);
                return;
            case PendingCall::ErrorReply:
                report(QStringLiteral("%1 answered error %2: %3").arg(QString::fromUtf8(options.target)).arg(done->errorCode()).arg(done->errorText()));
                finish(ExitCallBase + int(done->result()));
                return;
            case PendingCall::Timeout:
                report(QStringLiteral("no reply from %1 within %2 ms").arg(QString::fromUtf8(options.target)).arg(options.timeoutMs));
                finish(ExitTimeout);
                return;
            case PendingCall::LinkLost:
                report(done->errorText());
                finish(ExitConnectionLost);
                return;
            case PendingCall::NotOffered:
            case PendingCall::NotRegistered:
                report(done->errorText());
                finish(ExitCannotConnect);
                return;
            case PendingCall::InvalidRequest:
            case PendingCall::InvalidTarget:
                report(done->errorText());
                finish(ExitUsage);
                return;
            case PendingCall::PolicyDenied:
                report(QStringLiteral("call to %1 denied: %2").arg(QString::fromUtf8(options.target), done->errorText()));
                finish(ExitCallDenied);
                return;
            default:
                report(QStringLiteral("call to %1 failed: %2").arg(QString::fromUtf8(options.target), done->errorText()));
                finish(done->result() < 1000 ? ExitCallBase + int(done->result()) : ExitConnectionLost);
                return;
            }
        });
    });
    QObject::connect(&client, &KennelClient::errorOccurred, &loop, [&](KennelClient::ClientError error, const QString &text) {
        if (registered) {
            report(QStringLiteral("broker: %1").arg(text));
            return;
        }
        report(QStringLiteral("cannot connect or register at %1: %2").arg(options.broker.toString(), text));
        finish(error == KennelClient::Timeout ? ExitTimeout : ExitCannotConnect);
    });

    deadline.start(options.timeoutMs);
    return run.exec(false);
}

int runServe(const ServeOptions &options)
{
    ClientRun run(options.broker, options.name); // no connect timeout of its own: the library's
    KennelClient &client = run.client;
    QEventLoop &loop = run.loop;
    client.setAutoReconnect(options.reconnect);
    run.finishOnSignals();
    bool everRegistered = false;
    int answered = 0;
    int running = 0;
    const auto finish = [&run](int code) { run.finish(code); };
    const auto answeredOne = [&] {
        if (options.count > 0 && ++answered >= options.count)
            QTimer::singleShot(0, &loop, [&] { finish(ExitOk); }); // after the reply is written
    };

    client.setCallHandler([&](IncomingCall *call) {
        if (running >= options.jobs) {
            call->replyError(ServeBusy, QStringLiteral("busy: %1 commands running (--jobs %1)").arg(options.jobs));
            answeredOne();
            return;
        }
        ++running;
        auto *process = new QProcess(&loop);
        const QPointer<IncomingCall> guard(call);
        // Past the call's deadline nobody waits for the answer: the command is stopped.
        auto *limit = new QTimer(process);
        limit->setSingleShot(true);
        // Killed at the deadline: no reply, or it could race the broker's own `timeout` to the
        // caller and arrive first as an error reply.
        const auto pastDeadline = std::make_shared<bool>(false);
        QObject::connect(limit, &QTimer::timeout, process, [process, pastDeadline] {
            *pastDeadline = true;
            process->kill();
        });
        QObject::connect(process, &QProcess::errorOccurred, process, [&, process, guard](QProcess::ProcessError error) {
            if (error != QProcess::FailedToStart)
                return; // a crash or a kill also ends in finished()
            if (guard)
                guard->replyError(ServeCannotRun, QStringLiteral("cannot run %1: %2").arg(options.program, process->errorString()));
            --running;
            answeredOne();
            process->deleteLater();
        });
        QObject::connect(process, &QProcess::finished, process, [&, process, guard, pastDeadline](int code, QProcess::ExitStatus status) {
            const QByteArray out = process->readAllStandardOutput();
            if (guard && !*pastDeadline) {
                if (status == QProcess::NormalExit && code == 0) {
                    guard->reply(out);
                } else {
                    QString text = QString::fromUtf8(process->readAllStandardError().left(MaxErrorText)).trimmed();
                    if (text.isEmpty())
                        text = status == QProcess::NormalExit ? QStringLiteral("%1 exited with code %2").arg(options.program).arg(code)
                                                              : QStringLiteral("%1 crashed or was stopped").arg(options.program);
                    // The exit code is the error code (a crash: 128 + nothing better known).
                    const int errorCode = status == QProcess::NormalExit ? code : 128;
                    guard->replyError(quint16(std::clamp(errorCode, 1, 65535)), text);
                }
            }
            --running;
            answeredOne();
            process->deleteLater();
        });
        process->start(options.program, options.arguments);
        process->write(call->payload());
        process->closeWriteChannel();
        limit->start(int(std::min<quint32>(call->deadlineMs(), 24u * 3600 * 1000)));
    });

    QObject::connect(&client, &KennelClient::registered, &loop, [&](const QByteArray &name) {
        everRegistered = true;
        report(QStringLiteral("serving as %1 at %2").arg(QString::fromUtf8(name), options.broker.toString()));
    });
    QObject::connect(&client, &KennelClient::errorOccurred, &loop, [&](KennelClient::ClientError, const QString &text) {
        if (!run.isFinished())
            report(text);
    });
    QObject::connect(&client, &KennelClient::stateChanged, &loop, [&](KennelClient::State state) {
        if (state != KennelClient::Disconnected || run.isFinished() || client.reconnectPending())
            return;
        finish(everRegistered ? ExitConnectionLost : ExitCannotConnect);
    });

    return run.exec(true);
}

} // namespace KennelCtl
