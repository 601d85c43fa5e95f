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
    parser.addOptions({nameOption, peerOption, brokerOption, intervalOption, countOption, watchdogOption});
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
    sendTimer.setInterval(parser.value(intervalOption).toInt());
    QObject::connect(&sendTimer, &QTimer::timeout, &client, [&] {
        if (client.state() != KennelClient::Registered)
            return;
        const QByteArray text = "hello #" + QByteArray::number(++sequence) + " from " + client.name();
        if (client.send(peer, text))
            say(QStringLiteral("sent #%1 to %2").arg(sequence).arg(QString::fromUtf8(peer)));
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
    // A held message (its target is being restarted) is answered twice: `held` now, the outcome later.
    QHash<quint32, QElapsedTimer> heldSince;
    QObject::connect(&client, &KennelClient::deliveryStatusReceived, &client,
                     [&heldSince](quint32 id, const QByteArray &target, Kennel::DeliveryStatus status) {
                         const QString to = QString::fromUtf8(target);
                         if (status == Kennel::DeliveryStatus::Held) {
                             heldSince[id].start();
                             say(QStringLiteral("message %1 to %2 held: %2 is expected back").arg(id).arg(to));
                             return;
                         }
                         const auto held = heldSince.constFind(id);
                         const qint64 waitedMs = held == heldSince.cend() ? -1 : held->elapsed();
                         heldSince.remove(id);
                         if (status == Kennel::DeliveryStatus::Delivered) {
                             if (waitedMs >= 0)
                                 say(QStringLiteral("message %1 to %2 delivered %3 ms later").arg(id).arg(to).arg(waitedMs));
                             return;
                         }
                         say(QStringLiteral("message %1 to %2 not delivered: %3")
                                 .arg(id).arg(to, QLatin1String(Kennel::deliveryStatusName(status))));
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

    Kennel::UnixSignalWatcher signalWatcher;
    signalWatcher.watch(SIGINT);
    signalWatcher.watch(SIGTERM);
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &app, [] { QCoreApplication::exit(0); });
    client.connectToBroker();
    const int status = app.exec();
    client.disconnectFromBroker();
    say(QStringLiteral("stopped after sending %1 messages").arg(sequence));
    return status;
}
