// kennel-monitor: a live view of a Kennel broker for the operator's desktop (docs/MONITOR-APP.md).
// This file only reads the command line, builds the link and the window, and starts; everything
// else lives in link/, models/ and widgets/.
#include "connectdialog.h"
#include "fleetconnectdialog.h"
#include "fleetlink.h"
#include "mainwindow.h"
#include "monitorfeed.h"
#include "monitorlink.h"

#include <clidoc.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QFile>
#include <QSettings>
#include <QTimer>

#include <cstdio>

using namespace Kennel;

namespace {

// A token is a short secret; anything bigger is the wrong file.
constexpr qint64 MaxTokenFileBytes = 4096;

int fail(const QString &text)
{
    std::fprintf(stderr, "kennel-monitor: %s\n", qPrintable(text));
    return 2;
}

} // namespace

int main(int argc, char *argv[])
{
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("Kennel"));
    QCoreApplication::setApplicationName(QStringLiteral("kennel-monitor"));
    QCoreApplication::setApplicationVersion(QStringLiteral(KENNEL_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Live view of a Kennel broker: clients, watchdog deadlines, services, traffic.\n"
        "Without --connect the connect dialog opens, filled in from the options and the last broker used.\n"
        "With --fleet, the Fleet tab shows every board bridged to that MQTT broker."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption brokerOption(QStringList{QStringLiteral("b"), QStringLiteral("broker")},
                                          QStringLiteral("Broker address: HOST:PORT, [V6]:PORT or unix:PATH."), QStringLiteral("address"));
    const QCommandLineOption tokenFileOption(QStringLiteral("token-file"),
                                             QStringLiteral("Read the monitor token from this file (never from the command "
                                                            "line, where every user could read it)."),
                                             QStringLiteral("path"));
    const QCommandLineOption tlsOption(QStringLiteral("tls"), QStringLiteral("Use TLS (verified against the system CAs unless "
                                                                             "--ca-file or --pin says otherwise)."));
    const QCommandLineOption caOption(QStringLiteral("ca-file"), QStringLiteral("Verify the broker against these CA certificates (PEM); implies --tls."),
                                      QStringLiteral("path"));
    const QCommandLineOption pinOption(QStringLiteral("pin"),
                                       QStringLiteral("Trust exactly the certificate with this SHA-256 fingerprint; implies --tls."),
                                       QStringLiteral("sha256"));
    const QCommandLineOption connectOption(QStringLiteral("connect"), QStringLiteral("Connect at once, without the dialog."));
    const QCommandLineOption screenshotOption(QStringLiteral("screenshot"),
                                              QStringLiteral("Save a picture of the window to this file after --screenshot-delay, then quit "
                                                             "(for documentation; works with QT_QPA_PLATFORM=offscreen)."),
                                              QStringLiteral("png"));
    const QCommandLineOption screenshotDelayOption(QStringLiteral("screenshot-delay"),
                                                   QStringLiteral("Seconds to wait before the screenshot (default 5)."),
                                                   QStringLiteral("seconds"), QStringLiteral("5"));
    const QCommandLineOption sizeOption(QStringLiteral("window-size"),
                                        QStringLiteral("Open the window at this size, WIDTHxHEIGHT (e.g. for a screenshot)."),
                                        QStringLiteral("WxH"));
    // The fleet view (docs/MONITOR-APP.md, "Fleet"): options of its own, since --ca-file and --tls
    // are the board monitor connection's and a fleet's MQTT broker has its own CA and credentials.
    const QCommandLineOption fleetOption(QStringLiteral("fleet"),
                                         QStringLiteral("Watch the fleet: the MQTT broker the boards bridge to, mqtt://HOST:PORT or "
                                                        "mqtts://HOST:PORT (the boards' [bridge] url forms)."),
                                         QStringLiteral("url"));
    const QCommandLineOption fleetPrefixOption(QStringLiteral("fleet-prefix"),
                                               QStringLiteral("The boards' [bridge] prefix template (default kennel/{board}/)."),
                                               QStringLiteral("template"));
    const QCommandLineOption fleetCaOption(QStringLiteral("fleet-ca-file"),
                                           QStringLiteral("mqtts: verify the fleet's MQTT broker against these CA certificates (PEM); "
                                                          "default: the system's CAs."),
                                           QStringLiteral("path"));
    const QCommandLineOption fleetCertOption(QStringLiteral("fleet-cert"), QStringLiteral("mqtts: client certificate (PEM)."),
                                             QStringLiteral("path"));
    const QCommandLineOption fleetKeyOption(QStringLiteral("fleet-key"), QStringLiteral("mqtts: the client certificate's key (PEM)."),
                                            QStringLiteral("path"));
    const QCommandLineOption fleetUserOption(QStringLiteral("fleet-username"), QStringLiteral("MQTT username."), QStringLiteral("name"));
    const QCommandLineOption fleetPasswordOption(QStringLiteral("fleet-password-file"),
                                                 QStringLiteral("Read the MQTT password from this file's first line."),
                                                 QStringLiteral("path"));
    parser.addOptions({brokerOption, tokenFileOption, tlsOption, caOption, pinOption, connectOption, screenshotOption,
                       screenshotDelayOption, sizeOption, fleetOption, fleetPrefixOption, fleetCaOption, fleetCertOption,
                       fleetKeyOption, fleetUserOption, fleetPasswordOption});
    const CliDoc::Switches docSwitches = CliDoc::addOptions(parser);
    parser.process(app);
    if (CliDoc::handle(parser, docSwitches, {QStringLiteral("kennel-monitor"), QStringLiteral(KENNEL_VERSION), {}, {},
                                             {QStringLiteral("kennel-broker(1)"), QStringLiteral("kennelctl(1)")}}))
        return 0;
    if (!parser.positionalArguments().isEmpty())
        return fail(QStringLiteral("unexpected argument '%1': kennel-monitor takes options only (a broker is given with --broker)")
                        .arg(parser.positionalArguments().constFirst()));

    QSettings settings;
    // Start from a remembered broker: the one named by --broker if it was used before, else the
    // last one. The command line then overrides it field by field.
    const QList<ConnectDialog::Recent> recent = ConnectDialog::recentBrokers(settings);
    std::optional<BrokerAddress> wanted;
    if (parser.isSet(brokerOption)) {
        QString error;
        wanted = BrokerAddress::parse(parser.value(brokerOption), &error);
        if (!wanted)
            return fail(QStringLiteral("--broker: %1").arg(error));
    }
    MonitorLink::Settings linkSettings;
    if (wanted)
        linkSettings.address = *wanted;
    for (const ConnectDialog::Recent &r : recent) {
        const std::optional<BrokerAddress> address = BrokerAddress::parse(r.address);
        if (!address || (wanted && *address != *wanted))
            continue;
        linkSettings.address = *address;
        linkSettings.tls = r.tls;
        linkSettings.trust = r.trust;
        linkSettings.caFile = r.caFile;
        linkSettings.pinnedSha256 = MonitorLink::parseFingerprint(r.pin).value_or(QByteArray());
        linkSettings.token = r.token;
        break;
    }
    if (parser.isSet(tokenFileOption)) {
        QFile file(parser.value(tokenFileOption));
        if (!file.open(QIODevice::ReadOnly))
            return fail(QStringLiteral("--token-file: cannot read %1: %2").arg(file.fileName(), file.errorString()));
        if (file.size() > MaxTokenFileBytes)
            return fail(QStringLiteral("--token-file: %1 is over %2 bytes; not a token file").arg(file.fileName()).arg(MaxTokenFileBytes));
        linkSettings.token = file.readAll().trimmed();
        if (linkSettings.token.isEmpty())
            return fail(QStringLiteral("--token-file: %1 is empty").arg(file.fileName()));
    }
    if (parser.isSet(tlsOption)) {
        linkSettings.tls = true;
        linkSettings.trust = MonitorLink::TlsTrust::SystemCas;
    }
    if (parser.isSet(caOption)) {
        linkSettings.tls = true;
        linkSettings.trust = MonitorLink::TlsTrust::CaFile;
        linkSettings.caFile = parser.value(caOption);
    }
    if (parser.isSet(pinOption)) {
        const std::optional<QByteArray> pin = MonitorLink::parseFingerprint(parser.value(pinOption));
        if (!pin)
            return fail(QStringLiteral("--pin: expected a SHA-256 fingerprint, 64 hex digits (colons optional)"));
        linkSettings.tls = true;
        linkSettings.trust = MonitorLink::TlsTrust::Pinned;
        linkSettings.pinnedSha256 = *pin;
    }
    if ((parser.isSet(caOption) || parser.isSet(pinOption) || parser.isSet(tlsOption)) && linkSettings.address.isUnix())
        return fail(QStringLiteral("TLS applies to TCP addresses only; a Unix socket is local and not encrypted"));

    MonitorLink link;
    link.setSettings(linkSettings);
    MainWindow window(&link, &settings);
    if (parser.isSet(sizeOption)) {
        const QStringList parts = parser.value(sizeOption).split(QLatin1Char('x'));
        bool okW = false, okH = false;
        const int w = parts.size() == 2 ? parts.at(0).toInt(&okW) : 0;
        const int h = parts.size() == 2 ? parts.at(1).toInt(&okH) : 0;
        if (!okW || !okH || w < 200 || h < 150 || w > 10000 || h > 10000)
            return fail(QStringLiteral("--window-size: expected WIDTHxHEIGHT, e.g. 1600x900"));
        window.resize(w, h);
    }
    window.show();

    const bool fleet = parser.isSet(fleetOption);
    if (fleet) {
        FleetLink::Settings fleetSettings = FleetConnectDialog::remembered(settings);
        fleetSettings.url = parser.value(fleetOption);
        auto take = [&](const QCommandLineOption &option, QString &field) {
            if (parser.isSet(option))
                field = parser.value(option);
        };
        take(fleetPrefixOption, fleetSettings.prefix);
        take(fleetCaOption, fleetSettings.caFile);
        take(fleetCertOption, fleetSettings.certFile);
        take(fleetKeyOption, fleetSettings.keyFile);
        take(fleetUserOption, fleetSettings.username);
        take(fleetPasswordOption, fleetSettings.passwordFile);
        QString error;
        if (!window.fleetLink()->open(fleetSettings, &error))
            return fail(QStringLiteral("--fleet: %1").arg(error));
        FleetConnectDialog::remember(settings, fleetSettings);
        window.showFleet();
    } else {
        for (const QCommandLineOption *option : {&fleetPrefixOption, &fleetCaOption, &fleetCertOption, &fleetKeyOption, &fleetUserOption,
                                                 &fleetPasswordOption})
            if (parser.isSet(*option))
                return fail(QStringLiteral("--%1 needs --fleet").arg(option->names().constFirst()));
    }

    if (parser.isSet(connectOption)) {
        if (!linkSettings.address.isValid())
            return fail(QStringLiteral("--connect needs a broker: give --broker"));
        link.open();
    } else if (!fleet || parser.isSet(brokerOption)) {
        // Once the window is up, so that the dialog has a parent to sit on.
        QTimer::singleShot(0, &window, &MainWindow::showConnectDialog);
    }

    if (parser.isSet(screenshotOption)) {
        bool ok = false;
        const double delay = parser.value(screenshotDelayOption).toDouble(&ok);
        if (!ok || delay < 0 || delay > 3600)
            return fail(QStringLiteral("--screenshot-delay: expected seconds, 0..3600"));
        const QString path = parser.value(screenshotOption);
        QTimer::singleShot(int(delay * 1000), &window, [&window, path] {
            window.feed()->flush();
            if (!window.grab().save(path)) {
                std::fprintf(stderr, "kennel-monitor: could not save the screenshot to %s\n", qPrintable(path));
                QCoreApplication::exit(1);
                return;
            }
            QCoreApplication::quit();
        });
    }
    return app.exec();
}
