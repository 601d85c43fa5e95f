// kennel-demo-client: the native half of the demo. It registers a name, sends a numbered message to
// its peer at a fixed interval, prints what it receives and what became of what it sent, and rides
// out broker restarts with the client library's reconnect. With --watchdog-interval-ms it also asks
// the broker to watch it and feeds twice per interval, as a healthy client should.
#include "kennelclient.h"
#include "unixsignalwatcher.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QHash>
#include <QTimer>

#include <csignal>
#include <cstdio>

using Kennel::BrokerAddress;
using Kennel::KennelClient;

namespace {
void say(const QString &line)
{
    std::printf("%s\n", qPrintable(line));
    std::fflush(stdout);
}
} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kennel-demo-client"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A native Kennel client that talks to one peer."));
    parser.addHelpOption();
    const QCommandLineOption nameOption(QStringLiteral("name"), QStringLiteral("Name to register."), QStringLiteral("NAME"),
                                        QStringLiteral("client2"));
    const QCommandLineOption peerOption(QStringLiteral("peer"), QStringLiteral("Name to send to."), QStringLiteral("NAME"),
                                        QStringLiteral("client1"));
    // A service started by kennel-broker finds it in KENNEL_BROKER.
    const QString defaultBroker = qEnvironmentVariableIsEmpty("KENNEL_BROKER") ? QStringLiteral("127.0.0.1:8000")
                                                                               : qEnvironmentVariable("KENNEL_BROKER");
    const QCommandLineOption brokerOption(QStringLiteral("broker"),
                                          QStringLiteral("Broker address, HOST:PORT or unix:PATH (default: $KENNEL_BROKER, else 127.0.0.1:8000)."),
                                          QStringLiteral("ADDR"), defaultBroker);
    const QCommandLineOption intervalOption(QStringLiteral("interval-ms"), QStringLiteral("Time between messages."),
                                            QStringLiteral("MS"), QStringLiteral("2000"));
    const QCommandLineOption countOption(QStringLiteral("count"), QStringLiteral("Messages to send, 0 for no limit."),
                                         QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption watchdogOption(QStringLiteral("watchdog-interval-ms"),
                                            QStringLiteral("Register with the broker's watchdog with this interval (0: don't)."),
                                            QStringLiteral("MS"), QStringLiteral("0"));
    // While the peer is away (a message to it was held), send more often: the messages sent in the
    // gap are what shows that nothing is lost.
    const QCommandLineOption heldIntervalOption(QStringLiteral("held-interval-ms"),
                                                QStringLiteral("Time between messages while one to the peer is held (0: same as --interval-ms)."),
                                                QStringLiteral("MS"), QStringLiteral("0"));
    parser.addOptions({nameOption, peerOption, brokerOption, intervalOption, countOption, watchdogOption, heldIntervalOption});
    parser.process(app);

    QString error;
    const auto address = BrokerAddress::parse(parser.value(brokerOption), &error);
    if (!address) {
        std::fprintf(stderr, "kennel-demo-client: %s\n", qPrintable(error));
        return 2;
    }
    const QByteArray peer = parser.value(peerOption).toUtf8();
    const int count = parser.value(countOption).toInt();

    KennelClient client;
    client.setBrokerAddress(*address);
    client.setName(parser.value(nameOption).toUtf8());
    client.setAutoReconnect(true);

    const int watchdogIntervalMs = parser.value(watchdogOption).toInt();
    if (watchdogIntervalMs > 0)
        client.registerWatchdog({quint32(watchdogIntervalMs), 3, Kennel::ExpiryAction::Default});
    // Twice per interval: one late timer tick must not make a healthy client look late.
    QTimer feedTimer;
    feedTimer.setInterval(qMax(1, watchdogIntervalMs / 2));
    QObject::connect(&feedTimer, &QTimer::timeout, &client, [&client] { client.feedWatchdog(); });
    QObject::connect(&client, &KennelClient::watchdogRegistered, &client, [&](const Kennel::WatchdogTerms &terms) {
        say(QStringLiteral("watched by the broker: feeding every %1 ms against %2 ms x %3")
                .arg(feedTimer.interval()).arg(terms.intervalMs).arg(terms.allowedMisses));
        feedTimer.start();
    });

    int sequence = 0;
    QTimer sendTimer;
    const int intervalMs = parser.value(intervalOption).toInt();
    const int heldIntervalMs = parser.value(heldIntervalOption).toInt() > 0 ? parser.value(heldIntervalOption).toInt() : intervalMs;
    sendTimer.setInterval(intervalMs);
    // What became of every message sent, for the summary at exit. A message held and then
    // delivered counts in both.
    struct Tally
    {
        int sent = 0, delivered = 0, held = 0, expired = 0, notDelivered = 0;
    } tally;
    QObject::connect(&sendTimer, &QTimer::timeout, &client, [&] {
        if (client.state() != KennelClient::Registered)
            return;
        const QByteArray text = "hello #" + QByteArray::number(++sequence) + " from " + client.name();
        if (client.send(peer, text)) {
            ++tally.sent;
            say(QStringLiteral("sent #%1 to %2").arg(sequence).arg(QString::fromUtf8(peer)));
        }
        if (count > 0 && sequence >= count)
            QTimer::singleShot(1000, &app, [] { QCoreApplication::exit(0); });
    });

    QObject::connect(&client, &KennelClient::registered, &client, [&](const QByteArray &name) {
        say(QStringLiteral("registered as %1").arg(QString::fromUtf8(name)));
        sendTimer.start();
    });
    QObject::connect(&client, &KennelClient::messageReceived, &client,
                     [](const QByteArray &source, const QByteArray &payload, quint32) {
                         say(QStringLiteral("received from %1: %2").arg(QString::fromUtf8(source), QString::fromUtf8(payload)));
                     });
    // After SIGUSR1: says once when every message sent has its final status.
    bool draining = false;
    const auto sayIfAllAnswered = [&] {
        if (draining && tally.sent == tally.delivered + tally.expired + tally.notDelivered) {
            draining = false;
            say(QStringLiteral("all its messages are answered"));
        }
    };
    // A held message (its target is being restarted) is answered twice: `held` now, the outcome later.
    QHash<quint32, QElapsedTimer> heldSince;
    QObject::connect(&client, &KennelClient::deliveryStatusReceived, &client,
                     [&](quint32 id, const QByteArray &target, Kennel::DeliveryStatus status) {
                         const QString to = QString::fromUtf8(target);
                         if (status == Kennel::DeliveryStatus::Held) {
                             ++tally.held;
                             heldSince[id].start();
                             if (sendTimer.interval() != heldIntervalMs) {
                                 sendTimer.setInterval(heldIntervalMs);
                                 say(QStringLiteral("%1 is away: sending every %2 ms until it is back").arg(to).arg(heldIntervalMs));
                             }
                             say(QStringLiteral("message %1 to %2 held: %2 is expected back").arg(id).arg(to));
                             return;
                         }
                         const auto held = heldSince.constFind(id);
                         const qint64 waitedMs = held == heldSince.cend() ? -1 : held->elapsed();
                         heldSince.remove(id);
                         if (heldSince.isEmpty() && sendTimer.interval() != intervalMs)
                             sendTimer.setInterval(intervalMs);
                         if (status == Kennel::DeliveryStatus::Delivered) {
                             ++tally.delivered;
                             if (waitedMs >= 0)
                                 say(QStringLiteral("message %1 to %2 delivered %3 ms later").arg(id).arg(to).arg(waitedMs));
                             sayIfAllAnswered();
                             return;
                         }
                         if (status == Kennel::DeliveryStatus::Expired)
                             ++tally.expired;
                         else
                             ++tally.notDelivered;
                         say(QStringLiteral("message %1 to %2 not delivered: %3")
                                 .arg(id).arg(to, QLatin1String(Kennel::deliveryStatusName(status))));
                         sayIfAllAnswered();
                     });
    QObject::connect(&client, &KennelClient::errorOccurred, &client, [](KennelClient::ClientError, const QString &text) {
        say(QStringLiteral("error: %1").arg(text));
    });
    QObject::connect(&client, &KennelClient::disconnected, &client, [&] {
        sendTimer.stop();
        feedTimer.stop();
        say(QStringLiteral("disconnected from the broker"));
    });
    QObject::connect(&client, &KennelClient::reconnectScheduled, &client, [](int delayMs) {
        say(QStringLiteral("reconnecting in %1 ms").arg(delayMs));
    });

    // SIGUSR1: stop sending, so that what was sent can be answered before the broker stops (the
    // demo runner sends it before it stops the broker). SIGINT, SIGTERM: exit.
    Kennel::UnixSignalWatcher signalWatcher;
    signalWatcher.watch(SIGINT);
    signalWatcher.watch(SIGTERM);
    signalWatcher.watch(SIGUSR1);
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &app, [&](int signalNumber) {
        sendTimer.stop();
        sendTimer.disconnect();
        if (signalNumber == SIGUSR1) {
            draining = true;
            say(QStringLiteral("stops sending"));
            sayIfAllAnswered();
        } else
            QCoreApplication::exit(0);
    });
    client.connectToBroker();
    const int status = app.exec();
    client.disconnectFromBroker();
    say(QStringLiteral("stopped after sending %1 messages").arg(sequence));
    // Sent but not answered yet: the broker stopped before it said. Not lost by the broker, but
    // not known delivered either, so the summary shows them.
    const int unanswered = tally.sent - tally.delivered - tally.expired - tally.notDelivered;
    say(QStringLiteral("summary: sent %1, delivered %2, held %3, expired %4, not delivered %5, unanswered %6")
            .arg(tally.sent).arg(tally.delivered).arg(tally.held).arg(tally.expired).arg(tally.notDelivered).arg(unanswered));
    return status;
}
