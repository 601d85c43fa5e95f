#include "heldpeer.h"

#include "framecodec.h"

using namespace Kennel;

namespace KennelTest {

bool HeldPeer::connectAs(quint16 tcpPort, const QByteArray &name, quint32 features)
{
    if (!connectTcp(tcpPort))
        return false;
    if (features == 0)
        return registerAs(name);
    HelloPayload hello;
    hello.features = features;
    Frame f;
    f.type = FrameType::Hello;
    f.messageId = 1;
    f.source = name;
    f.payload = encodeHello(hello);
    send(f);
    const std::optional<Frame> welcome = take(FrameType::Welcome);
    if (!welcome)
        return false;
    const std::optional<WelcomePayload> w = decodeWelcome(welcome->payload);
    return w && w->features && (*w->features & FeatureHeldStatus);
}

std::optional<std::pair<quint32, DeliveryStatus>> HeldPeer::nextStatus(int timeoutMs)
{
    const std::optional<Frame> f = take(FrameType::DeliveryStatus, timeoutMs);
    if (!f)
        return std::nullopt;
    const std::optional<DeliveryStatus> status = decodeDeliveryStatus(f->payload);
    if (!status)
        return std::nullopt;
    return std::make_pair(f->messageId, *status);
}

} // namespace KennelTest
