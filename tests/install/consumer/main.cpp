// Uses the installed package the way an application would: the codec and the client class.
#include <brokeraddress.h>
#include <framecodec.h>
#include <kennelclient.h>
#include <names.h>

#include <QCoreApplication>

#include <cstdio>

using Kennel::BrokerAddress;
using Kennel::KennelClient;

static int fail(const char *what)
{
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    return 1;
}

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);

    Kennel::Frame frame;
    frame.type = Kennel::FrameType::Send;
    frame.messageId = 42;
    frame.flags = Kennel::WantDeliveryStatus;
    frame.target = QByteArrayLiteral("worker");
    frame.payload = QByteArrayLiteral("hello from outside");
    const QByteArray bytes = Kennel::encodeFrame(frame);

    Kennel::FrameDecoder decoder;
    decoder.append(bytes);
    const std::optional<Kennel::Frame> decoded = decoder.next();
    if (!decoded || *decoded != frame)
        return fail("frame round trip");
    if (!Kennel::isValidName(QByteArrayLiteral("worker")))
        return fail("isValidName");

    const std::optional<BrokerAddress> address = BrokerAddress::parse(QStringLiteral("unix:/tmp/kennel.sock"));
    if (!address || !address->isUnix())
        return fail("BrokerAddress::parse");

    KennelClient client;
    client.setBrokerAddress(*address);
    client.setName(QByteArrayLiteral("consumer"));
    if (client.state() != KennelClient::Disconnected || client.send("worker", "x") != 0)
        return fail("KennelClient initial state");

    std::printf("consumer: OK\n");
    return 0;
}
