#include "topiccommands.h"

#include "clientrun.h"
#include "commands.h"

#include <names.h>
#include <topicname.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QTimer>

#include <cstdio>
#include <optional>

using Kennel::BrokerAddress;
using Kennel::KennelClient;
using std::chrono::milliseconds;

namespace KennelCtl {

namespace {

const QString DefaultBroker = QStringLiteral("127.0.0.1:8000");

const QString Description = QStringLiteral(
    "Publish to and subscribe to Kennel topics (MQTT syntax: levels split by '/', '+' one level,\n"
    "'#' the rest).\n"
    "\n"
    "  pub TOPIC TEXT   publish TEXT ('-': standard input; --file F: the file) and wait for the\n"
    "                   broker's count: \"published to TOPIC: N subscribers (M not taken)\".\n"
    "                   --retain keeps it as the topic's retained value; an empty TEXT ('')\n"
    "                   with --retain clears that value.\n"
    "  sub FILTER...    subscribe and print each publication as \"TOPIC: TEXT\" (escaped like\n"
    "                   listen), or with --json one object per line: topic, publisher, payload\n"
    "                   (or payload_base64 when not UTF-8), retained.\n"
    "\n"
    "Exit status: 0 done; 2 usage (also a topic or filter the broker refuses); 3 cannot connect,\n"
    "register, or the broker does not offer topics; 4 timeout; 5 connection lost; 8 (pub --retain)\n"
    "published but not retained: the broker's retained store is full.");

void printLine(FILE *stream, const QByteArray &line)
{
    std::fwrite(line.constData(), 1, size_t(line.size()), stream);
    std::fputc('\n', stream);
    std::fflush(stream);
}

void report(const QString &text)
{
    printLine(stderr, QByteArrayLiteral("kennelctl: ") + text.toUtf8());
}

int usage(const QString &text)
{
    std::fprintf(stderr, "kennelctl: %s\nTry 'kennelctl %s --help'.\n", qPrintable(text), "pub|sub");
    return ExitUsage;
}

std::optional<QByteArray> readAll(const QString &path, QString *error)
{
    QFile file;
    const bool stdinput = path == QLatin1String("-");
    const bool opened = stdinput ? file.open(stdin, QIODevice::ReadOnly) : (file.setFileName(path), file.open(QIODevice::ReadOnly));
    if (!opened) {
        *error = QStringLiteral("cannot read %1: %2").arg(stdinput ? QStringLiteral("standard input") : path, file.errorString());
        return std::nullopt;
    }
    QByteArray text;
    for (QByteArray chunk; !(chunk = file.read(1 << 20)).isEmpty();)
        text += chunk; // a pipe gives what it has at each read: read to the end
    if (file.error() != QFileDevice::NoError) {
        *error = QStringLiteral("cannot read %1: %2").arg(path, file.errorString());
        return std::nullopt;
    }
    return text;
}

struct Common
{
    BrokerAddress broker;
    QByteArray name;
    int timeoutMs = 0;
};

// Connects and registers; calls `ready` once registered with a broker that offers topics.
// Returns the exit code when the run ends.
template<typename Setup>
int run(const Common &common, bool reconnect, Setup setup)
{
    ClientRun clientRun(common.broker, common.name, milliseconds(common.timeoutMs > 0 ? common.timeoutMs : 10000));
    KennelClient &client = clientRun.client;
    QEventLoop &loop = clientRun.loop;
    client.setAutoReconnect(reconnect);
    clientRun.finishOnSignals();
    bool everRegistered = false;
    const auto finish = [&clientRun](int code) { clientRun.finish(code); };
    QObject::connect(&client, &KennelClient::registered, &loop, [&] {
        if (!client.brokerOffers(Kennel::FeatureTopics)) {
            report(QStringLiteral("the broker at %1 does not offer topics").arg(common.broker.toString()));
            finish(ExitCannotConnect);
            return;
        }
        everRegistered = true;
    });
    QObject::connect(&client, &KennelClient::errorOccurred, &loop, [&](KennelClient::ClientError, const QString &text) {
        if (!clientRun.isFinished())
            report(client.state() == KennelClient::Registered ? QStringLiteral("broker: %1").arg(text) : text);
    });
    QObject::connect(&client, &KennelClient::stateChanged, &loop, [&](KennelClient::State state) {
        if (state != KennelClient::Disconnected || clientRun.isFinished() || client.reconnectPending())
            return;
        finish(everRegistered ? ExitConnectionLost : client.error() == KennelClient::Timeout ? ExitTimeout : ExitCannotConnect);
    });
    setup(client, finish, loop, everRegistered);
    return clientRun.exec(true);
}

int runPub(const Common &common, const QByteArray &topic, const QByteArray &text, bool retain)
{
    return run(common, false, [&](KennelClient &client, auto finish, QEventLoop &loop, bool &) {
        auto *timer = new QTimer(&loop);
        timer->setSingleShot(true);
        QObject::connect(timer, &QTimer::timeout, &loop, [=] {
            report(QStringLiteral("timed out after %1 ms").arg(common.timeoutMs));
            finish(ExitTimeout);
        });
        timer->start(common.timeoutMs > 0 ? common.timeoutMs : 5000);
        auto id = std::make_shared<quint32>(0);
        QObject::connect(&client, &KennelClient::registered, &loop, [&client, id, topic, text, retain] {
            if (client.brokerOffers(Kennel::FeatureTopics))
                *id = client.publish(topic, text, retain, true);
        });
        QObject::connect(&client, &KennelClient::publishStatusReceived, &loop,
                         [=](quint32 messageId, KennelClient::ClientError result, int delivered, int notTaken) {
            if (messageId != *id)
                return;
            const QString counts = QStringLiteral("%1 subscribers (%2 not taken)").arg(delivered).arg(notTaken);
            if (result == KennelClient::NoError) {
                printLine(stdout, QStringLiteral("published to %1: %2").arg(QString::fromUtf8(topic), counts).toUtf8());
                finish(ExitOk);
            } else if (result == KennelClient::RetainedStoreFull) {
                printLine(stdout, QStringLiteral("published to %1: %2, not retained: the broker's retained store is full")
                                      .arg(QString::fromUtf8(topic), counts).toUtf8());
                finish(ExitNotRetained);
            } else {
                report(QStringLiteral("not published to %1: %2").arg(QString::fromUtf8(topic)).arg(int(result)));
                finish(ExitUsage);
            }
        });
    });
}

int runSub(const Common &common, const QList<QByteArray> &filters, bool json, int count, bool reconnect)
{
    return run(common, reconnect, [&](KennelClient &client, auto finish, QEventLoop &loop, bool &everRegistered) {
        auto *timer = new QTimer(&loop);
        timer->setSingleShot(true);
        auto received = std::make_shared<int>(0);
        QObject::connect(timer, &QTimer::timeout, &loop, [=, &everRegistered] {
            if (!everRegistered || count > 0) {
                report(QStringLiteral("timed out after %1 ms with %2 publications").arg(common.timeoutMs).arg(*received));
                finish(ExitTimeout);
            } else {
                finish(ExitOk);
            }
        });
        if (common.timeoutMs > 0)
            timer->start(common.timeoutMs);
        for (const QByteArray &filter : filters)
            client.subscribe(filter); // remembered: sent at every registration
        QObject::connect(&client, &KennelClient::subscribed, &loop, [](const QByteArray &filter, int retained) {
            // On stderr, so stdout carries publications only; a test waits for this line.
            report(QStringLiteral("subscribed to %1 (%2 retained)").arg(QString::fromUtf8(filter)).arg(retained));
        });
        QObject::connect(&client, &KennelClient::subscriptionRefused, &loop,
                         [=](const QByteArray &filter, KennelClient::ClientError, const QString &text) {
            report(QStringLiteral("subscription to %1 refused: %2").arg(QString::fromUtf8(filter), text));
            finish(ExitUsage);
        });
        QObject::connect(&client, &KennelClient::publicationReceived, &loop,
                         [=](const QByteArray &topic, const QByteArray &payload, const QByteArray &publisher, bool retained) {
            if (json) {
                QJsonObject o;
                o.insert(QStringLiteral("topic"), QString::fromUtf8(topic));
                o.insert(QStringLiteral("publisher"), QString::fromLatin1(publisher));
                if (QUtf8StringView(payload.constData(), payload.size()).isValidUtf8())
                    o.insert(QStringLiteral("payload"), QString::fromUtf8(payload));
                else
                    o.insert(QStringLiteral("payload_base64"), QString::fromLatin1(payload.toBase64()));
                o.insert(QStringLiteral("retained"), retained);
                printLine(stdout, QJsonDocument(o).toJson(QJsonDocument::Compact));
            } else {
                printLine(stdout, escapeForLine(topic) + QByteArrayLiteral(": ") + escapeForLine(payload));
            }
            if (count > 0 && ++*received >= count)
                finish(ExitOk);
        });
    });
}

} // namespace

int runTopicCommand(const QStringList &arguments)
{
    const QString command = arguments.value(1);
    if (command != QLatin1String("pub") && command != QLatin1String("sub"))
        return NotATopicCommand;
    const bool pub = command == QLatin1String("pub");
    // As for the other commands: the library's info lines suit a daemon's log, not a shell tool.
    QLoggingCategory::setFilterRules(QStringLiteral("kennel.client.info=false"));

    QCommandLineParser parser;
    parser.setApplicationDescription(Description);
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption brokerOption(QStringLiteral("broker"), QStringLiteral("Broker address."), QStringLiteral("ADDR"));
    const QCommandLineOption asOption(QStringLiteral("as"), QStringLiteral("Register as NAME (default kcPID)."), QStringLiteral("NAME"));
    const QCommandLineOption timeoutOption(QStringLiteral("timeout"),
                                           QStringLiteral("pub: give up after MS (default 5000). sub: stop after MS; without --count that is success."),
                                           QStringLiteral("MS"));
    const QCommandLineOption retainOption(QStringLiteral("retain"), QStringLiteral("pub: keep it as the topic's retained value."));
    const QCommandLineOption fileOption(QStringLiteral("file"), QStringLiteral("pub: the message is FILE's contents ('-': standard input)."),
                                        QStringLiteral("FILE"));
    const QCommandLineOption jsonOption(QStringLiteral("json"), QStringLiteral("sub: one JSON object per publication."));
    const QCommandLineOption countOption(QStringLiteral("count"), QStringLiteral("sub: exit after N publications."), QStringLiteral("N"));
    const QCommandLineOption reconnectOption(QStringLiteral("reconnect"), QStringLiteral("sub: reconnect and subscribe again when the broker goes away."));
    parser.addOptions({brokerOption, asOption, timeoutOption, retainOption, fileOption, jsonOption, countOption, reconnectOption});
    parser.addPositionalArgument(command, pub ? QStringLiteral("Publish.") : QStringLiteral("Subscribe."));
    if (pub) {
        parser.addPositionalArgument(QStringLiteral("TOPIC"), QStringLiteral("The topic."));
        parser.addPositionalArgument(QStringLiteral("TEXT"), QStringLiteral("The message; '-' reads standard input."), QStringLiteral("[TEXT]"));
    } else {
        parser.addPositionalArgument(QStringLiteral("FILTER"), QStringLiteral("Topic filters."), QStringLiteral("FILTER..."));
    }
    const bool parsed = parser.parse(arguments);
    if (parser.isSet(help))
        parser.showHelp(0);
    if (!parsed)
        return usage(parser.errorText());

    Common common;
    QString brokerText = parser.value(brokerOption);
    if (!parser.isSet(brokerOption))
        brokerText = qEnvironmentVariableIsEmpty("KENNEL_BROKER") ? DefaultBroker : qEnvironmentVariable("KENNEL_BROKER");
    QString addressError;
    const std::optional<BrokerAddress> broker = BrokerAddress::parse(brokerText, &addressError);
    if (!broker)
        return usage(QStringLiteral("invalid broker address: %1").arg(addressError));
    common.broker = *broker;
    common.name = parser.isSet(asOption) ? parser.value(asOption).toUtf8()
                                         : QByteArrayLiteral("kc") + QByteArray::number(QCoreApplication::applicationPid());
    if (!Kennel::isValidName(common.name))
        return usage(QStringLiteral("invalid --as name \"%1\"").arg(QString::fromUtf8(common.name)));
    if (parser.isSet(timeoutOption)) {
        bool ok = false;
        common.timeoutMs = parser.value(timeoutOption).toInt(&ok);
        if (!ok || common.timeoutMs <= 0)
            return usage(QStringLiteral("--timeout needs a positive number of milliseconds"));
    }
    const QStringList args = parser.positionalArguments().mid(1);

    if (pub) {
        if (parser.isSet(jsonOption) || parser.isSet(countOption) || parser.isSet(reconnectOption))
            return usage(QStringLiteral("--json, --count and --reconnect are options of sub"));
        const bool fromFile = parser.isSet(fileOption);
        if (args.size() != (fromFile ? 1 : 2))
            return usage(fromFile ? QStringLiteral("pub --file needs TOPIC only") : QStringLiteral("pub needs TOPIC and TEXT (or --file)"));
        const QByteArray topic = args.at(0).toUtf8();
        if (const Kennel::Topic::Check c = Kennel::Topic::checkName(topic, Kennel::Topic::MaxLength, 1024); c != Kennel::Topic::Check::Ok)
            return usage(QStringLiteral("invalid topic \"%1\": %2").arg(args.at(0), QLatin1String(Kennel::Topic::checkText(c))));
        if (Kennel::Topic::isReserved(topic))
            return usage(QStringLiteral("invalid topic \"%1\": topics starting with '$' are the broker's own").arg(args.at(0)));
        QByteArray text;
        const QString source = fromFile ? parser.value(fileOption) : args.at(1);
        if (fromFile || source == QLatin1String("-")) {
            QString error;
            const std::optional<QByteArray> read = readAll(source, &error);
            if (!read)
                return usage(error);
            text = *read;
        } else {
            text = source.toUtf8();
        }
        return runPub(common, topic, text, parser.isSet(retainOption));
    }

    if (parser.isSet(retainOption) || parser.isSet(fileOption))
        return usage(QStringLiteral("--retain and --file are options of pub"));
    if (args.isEmpty())
        return usage(QStringLiteral("sub needs at least one FILTER"));
    QList<QByteArray> filters;
    for (const QString &f : args) {
        const QByteArray filter = f.toUtf8();
        if (const Kennel::Topic::Check c = Kennel::Topic::checkFilter(filter, Kennel::Topic::MaxLength, 1024); c != Kennel::Topic::Check::Ok)
            return usage(QStringLiteral("invalid filter \"%1\": %2").arg(f, QLatin1String(Kennel::Topic::checkText(c))));
        filters.append(filter);
    }
    int count = 0;
    if (parser.isSet(countOption)) {
        bool ok = false;
        count = parser.value(countOption).toInt(&ok);
        if (!ok || count <= 0)
            return usage(QStringLiteral("--count needs a positive number"));
    }
    return runSub(common, filters, parser.isSet(jsonOption), count, parser.isSet(reconnectOption));
}

} // namespace KennelCtl
