// A supervised service that tries to be an operator: it connects to the
// broker's Unix socket, says Hello as a monitor without a token (relying on its uid), and if
// admitted stops service argv[2] and disconnects client argv[3].
// Exit: 10 refused (the Error's code is printed), 20 admitted (actions attempted), 30 no answer
// or no connection.
// A test helper, so blocking waits are fine here.
#include "framecodec.h"
#include "monitorcodec.h"

#include <QCoreApplication>
#include <QLocalSocket>
#include <QThread>

#include <cstdio>
#include <optional>

using namespace Kennel;

namespace {

std::optional<Frame> nextFrame(QLocalSocket &socket, FrameDecoder &decoder, int timeoutMs)
{
    for (int waited = 0; waited < timeoutMs; waited += 50) {
        if (auto frame = decoder.next())
            return frame;
        if (socket.waitForReadyRead(50))
            decoder.append(socket.readAll());
        if (socket.state() != QLocalSocket::ConnectedState && socket.bytesAvailable() == 0) {
            if (auto frame = decoder.next())
                return frame;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

void control(QLocalSocket &socket, MonitorControlAction action, const QByteArray &target, quint32 id)
{
    Frame f;
    f.type = MonitorFrame::Control;
    f.messageId = id;
    MonitorControl c;
    c.action = action;
    c.target = target;
    f.payload = encodeMonitorControl(c);
    socket.write(encodeFrame(f));
    socket.flush();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 4) {
        std::fprintf(stderr, "usage: monitorprobe SOCKET SERVICE CLIENT\n");
        return 2;
    }
    // Let the test register its bystander first.
    QThread::msleep(300);
    QLocalSocket socket;
    socket.connectToServer(QString::fromLocal8Bit(argv[1]));
    if (!socket.waitForConnected(5000)) {
        std::printf("no connection\n");
        return 30;
    }
    Frame hello;
    hello.type = FrameType::Hello;
    hello.messageId = 1;
    hello.source = QByteArrayLiteral("probe");
    HelloPayload payload;
    payload.role = Role::Monitor;
    hello.payload = encodeHello(payload);
    socket.write(encodeFrame(hello));
    socket.flush();

    FrameDecoder decoder(1024 * 1024);
    const std::optional<Frame> answer = nextFrame(socket, decoder, 10000);
    if (!answer) {
        std::printf("no answer\n");
        return 30;
    }
    if (answer->type == FrameType::Error) {
        const ErrorPayload error = decodeError(answer->payload).value_or(ErrorPayload{});
        std::printf("refused: %d %s\n", int(error.code), qPrintable(error.text));
        return 10;
    }
    std::printf("admitted\n");
    control(socket, MonitorControlAction::StopService, QByteArray(argv[2]), 2);
    control(socket, MonitorControlAction::DisconnectClient, QByteArray(argv[3]), 3);
    for (int results = 0; results < 2;) {
        const std::optional<Frame> f = nextFrame(socket, decoder, 5000);
        if (!f)
            break;
        if (f->type == MonitorFrame::ControlResult)
            ++results;
    }
    std::fflush(stdout);
    return 20;
}
