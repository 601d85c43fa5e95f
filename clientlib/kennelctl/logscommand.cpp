#include "logscommand.h"

#include "framecodec.h"
#include "monitorcodec.h"
#include "unixsignalwatcher.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QDateTime>
#include <QFile>
#include <QLocalSocket>
#include <QTcpSocket>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <memory>

namespace KennelCtl {

using namespace Kennel;

namespace {

class LogsSession : public QObject
{
public:
    explicit LogsSession(const LogsOptions &options) : m_options(options) {}

    int run()
    {
        QByteArray token;
        if (!m_options.tokenFile.isEmpty()) {
            QFile file(m_options.tokenFile);
            if (!file.open(QIODevice::ReadOnly)) {
                std::fprintf(stderr, "kennelctl: cannot read %s: %s\n", qPrintable(m_options.tokenFile),
                             qPrintable(file.errorString()));
                return ExitUsage;
            }
            token = file.read(4096).trimmed();
        }
        if (m_options.broker.isUnix()) {
            auto *socket = new QLocalSocket(this);
            m_device = socket;
            connect(socket, &QLocalSocket::readyRead, this, &LogsSession::readFrames);
            connect(socket, &QLocalSocket::errorOccurred, this, [this, socket] { fail(socket->errorString()); });
            connect(socket, &QLocalSocket::disconnected, this, [this] { fail(QStringLiteral("the broker closed the connection")); });
            socket->connectToServer(m_options.broker.path());
        } else {
            auto *socket = new QTcpSocket(this);
            m_device = socket;
            connect(socket, &QTcpSocket::readyRead, this, &LogsSession::readFrames);
            connect(socket, &QTcpSocket::errorOccurred, this, [this, socket] { fail(socket->errorString()); });
            connect(socket, &QTcpSocket::disconnected, this, [this] { fail(QStringLiteral("the broker closed the connection")); });
            socket->connectToHost(m_options.broker.host(), m_options.broker.port());
        }
        Frame hello;
        hello.type = FrameType::Hello;
        hello.messageId = 1;
        hello.source = "kennelctl";
        HelloPayload payload;
        payload.role = Role::Monitor;
        payload.token = token;
        hello.payload = encodeHello(payload);
        m_device->write(encodeFrame(hello));
        token.fill('\0');

        m_deadline.setSingleShot(true);
        connect(&m_deadline, &QTimer::timeout, this, [this] {
            std::fprintf(stderr, "kennelctl: no answer from the broker within %d ms\n", m_options.timeoutMs);
            finish(ExitTimeout);
        });
        m_deadline.start(m_options.timeoutMs);
        m_poll.setInterval(m_options.pollMs);
        connect(&m_poll, &QTimer::timeout, this, &LogsSession::request);

        UnixSignalWatcher watcher;
        watcher.watch(SIGINT);
        watcher.watch(SIGTERM);
        connect(&watcher, &UnixSignalWatcher::received, this, [this] { finish(ExitOk); });
        if (!m_done)
            m_loop.exec();
        return m_exit;
    }

private:
    void request()
    {
        if (m_waiting)
            return;
        MonitorServiceOutputRequest request;
        request.service = m_options.service;
        request.maxLines = m_lastSeq ? 0 : quint32(m_options.lines);
        request.afterSeq = m_lastSeq;
        Frame f;
        f.type = MonitorFrame::ServiceOutputRequest;
        f.messageId = ++m_nextId;
        f.payload = encodeMonitorServiceOutputRequest(request);
        m_device->write(encodeFrame(f));
        m_waiting = true;
    }

    void readFrames()
    {
        m_decoder.append(m_device->readAll());
        while (const std::optional<Frame> f = m_decoder.next()) {
            if (m_done)
                return;
            if (f->type == FrameType::Welcome) {
                request();
            } else if (f->type == FrameType::Error) {
                const ErrorPayload error = decodeError(f->payload).value_or(ErrorPayload{});
                std::fprintf(stderr, "kennelctl: not admitted as a monitor: %s (%s)\n", qPrintable(error.text),
                             errorCodeName(error.code));
                // The operator commands' code for the same refusal (docs/KENNELCTL.md).
                finish(ExitNotAdmitted);
            } else if (f->type == MonitorFrame::ServiceOutput) {
                answered(decodeMonitorServiceOutput(f->payload));
            }
        }
        if (m_decoder.error() != DecodeError::None) {
            std::fprintf(stderr, "kennelctl: malformed data from the broker\n");
            finish(ExitConnectionLost);
        }
    }

    void answered(const std::optional<MonitorServiceOutput> &answer)
    {
        m_waiting = false;
        m_deadline.stop();
        if (!answer) {
            std::fprintf(stderr, "kennelctl: malformed service output from the broker\n");
            finish(ExitConnectionLost);
            return;
        }
        if (answer->code != ErrorCode::None) {
            std::fprintf(stderr, "kennelctl: %s\n", qPrintable(answer->error));
            finish(answer->code == ErrorCode::NotRegistered ? ExitUsage : ExitCannotConnect);
            return;
        }
        if (!m_printedAny && !answer->lines.isEmpty()) {
            const quint64 first = answer->lines.first().seq;
            // Lines that were written and are no longer kept, before the first one shown.
            if (answer->dropped > 0 && first > 1 && m_options.lines == 0)
                std::fprintf(stderr, "kennelctl: %llu earlier lines are no longer kept (output_lines %u, output_bytes %llu)\n",
                             (unsigned long long)answer->dropped, answer->maxLines, (unsigned long long)answer->maxBytes);
        }
        for (const MonitorOutputLine &line : answer->lines) {
            const QByteArray time = QDateTime::fromMSecsSinceEpoch(line.timeMs)
                                        .toString(QStringLiteral("yyyy-MM-dd hh:mm:ss.zzz")).toLatin1();
            const QByteArray text = escapeForLine(line.text);
            std::printf("%s %s %s\n", time.constData(), line.isStderr ? "err" : "out", text.constData());
            m_lastSeq = line.seq;
            m_printedAny = true;
        }
        std::fflush(stdout);
        if (!m_printedAny)
            m_lastSeq = answer->lastSeq; // nothing kept yet: follow from here
        if (answer->more && (m_options.follow || m_lastSeq)) {
            request(); // more after these: catch up at once
            return;
        }
        if (!m_options.follow) {
            finish(ExitOk);
            return;
        }
        if (m_lastSeq == 0)
            m_lastSeq = answer->lastSeq;
        if (!m_poll.isActive())
            m_poll.start();
    }

    void fail(const QString &why)
    {
        if (m_done)
            return;
        std::fprintf(stderr, "kennelctl: cannot connect to %s: %s\n", qPrintable(m_options.broker.toString()), qPrintable(why));
        finish(m_printedAny ? ExitConnectionLost : ExitCannotConnect);
    }

    void finish(int code)
    {
        if (m_done)
            return;
        m_done = true;
        m_exit = code;
        m_poll.stop();
        m_deadline.stop();
        m_loop.exit(code);
    }

    LogsOptions m_options;
    QIODevice *m_device = nullptr;
    FrameDecoder m_decoder{16 * 1024 * 1024};
    QTimer m_deadline;
    QTimer m_poll;
    QEventLoop m_loop;
    quint64 m_lastSeq = 0;
    quint32 m_nextId = 1;
    bool m_waiting = false;
    bool m_printedAny = false;
    bool m_done = false;
    int m_exit = ExitOk;
};

} // namespace

int runLogs(const LogsOptions &options)
{
    LogsSession session(options);
    return session.run();
}

} // namespace KennelCtl
