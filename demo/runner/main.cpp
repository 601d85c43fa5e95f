// kennel-demo: the README's main job. Starts kennel-broker supervising the old system's two-client
// scenario — messages both ways, a client that feeds its watchdog too slowly, killed and restarted —
// and prints what happens until Ctrl-C or --duration.
#include "demorunner.h"
#include "unixsignalwatcher.h"

#include <QCommandLineParser>
#include <QCoreApplication>

#include <csignal>
#include <cstdio>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("kennel-demo"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Runs kennel-broker supervising two clients that exchange messages through it; one feeds its watchdog "
        "too slowly and is killed and restarted. Prints it all as one timeline."));
    parser.addHelpOption();
    const QCommandLineOption duration(QStringLiteral("duration"), QStringLiteral("Stop after SECONDS (default: run until Ctrl-C)."),
                                      QStringLiteral("SECONDS"), QStringLiteral("0"));
    const QCommandLineOption port(QStringLiteral("port"),
                                  QStringLiteral("Run the broker on 127.0.0.1:PORT (default 8000, the old server's port)."),
                                  QStringLiteral("PORT"));
    const QCommandLineOption interval(QStringLiteral("interval-ms"), QStringLiteral("Time between a client's messages."),
                                      QStringLiteral("MS"), QStringLiteral("2000"));
    const QCommandLineOption feedInterval(QStringLiteral("feed-interval-ms"),
                                          QStringLiteral("Time between client1's watchdog feeds (its deadline is 9000 ms)."),
                                          QStringLiteral("MS"), QStringLiteral("10000"));
    const QCommandLineOption monitor(QStringLiteral("monitor"),
                                     QStringLiteral("Open kennel-monitor on the demo: auto (when a display is available), on, off."),
                                     QStringLiteral("WHEN"), QStringLiteral("auto"));
    const QCommandLineOption monitorArg(QStringLiteral("monitor-arg"), QStringLiteral("An extra argument for kennel-monitor (repeatable)."),
                                        QStringLiteral("ARG"));
    const QCommandLineOption monitorListen(QStringLiteral("monitor-listen"),
                                           QStringLiteral("Also let a desktop's kennel-monitor connect on HOST:PORT with a generated token."),
                                           QStringLiteral("HOST:PORT"));
    parser.addOptions({duration, port, interval, feedInterval, monitor, monitorArg, monitorListen});
    parser.process(app);

    DemoOptions options;
    options.binDir = QCoreApplication::applicationDirPath();
    bool ok = true;
    options.durationSeconds = parser.value(duration).toInt(&ok);
    if (!ok || options.durationSeconds < 0) {
        std::fprintf(stderr, "kennel-demo: --duration takes a whole number of seconds\n");
        return 2;
    }
    options.intervalMs = parser.value(interval).toInt(&ok);
    if (!ok || options.intervalMs < 10) {
        std::fprintf(stderr, "kennel-demo: --interval-ms takes a whole number of at least 10\n");
        return 2;
    }
    options.feedIntervalMs = parser.value(feedInterval).toInt(&ok);
    if (!ok || options.feedIntervalMs < 10) {
        std::fprintf(stderr, "kennel-demo: --feed-interval-ms takes a whole number of at least 10\n");
        return 2;
    }
    const QString when = parser.value(monitor);
    if (when == QLatin1String("auto")) {
        // A display means someone can look at the window; without one (CI, ssh) it would only fail.
        options.openMonitor = !qEnvironmentVariableIsEmpty("DISPLAY") || !qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
    } else if (when == QLatin1String("on") || when == QLatin1String("off")) {
        options.openMonitor = when == QLatin1String("on");
    } else {
        std::fprintf(stderr, "kennel-demo: --monitor takes auto, on or off\n");
        return 2;
    }
    options.monitorArgs = parser.values(monitorArg);
    options.monitorListen = parser.value(monitorListen);
    if (parser.isSet(port)) {
        const uint value = parser.value(port).toUInt(&ok);
        if (!ok || value == 0 || value > 65535) {
            std::fprintf(stderr, "kennel-demo: --port takes a port number\n");
            return 2;
        }
        options.port = quint16(value);
    }

    DemoRunner runner(options);
    Kennel::UnixSignalWatcher signalWatcher;
    signalWatcher.watch(SIGINT);
    signalWatcher.watch(SIGTERM);
    QObject::connect(&signalWatcher, &Kennel::UnixSignalWatcher::received, &runner,
                     [&runner](int) { runner.stop(QStringLiteral("interrupted")); });
    QObject::connect(&runner, &DemoRunner::finished, &app, [](int code) { QCoreApplication::exit(code); });
    runner.start();
    return app.exec();
}
