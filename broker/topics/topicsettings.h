// The bounds of publish/subscribe ([topics] in the config, docs/CONFIG.md), and the old-protocol
// names the config makes take part. Plain values, so the topic bus and its tests need nothing of
// the config loader.
#pragma once

#include <QByteArray>
#include <QList>
#include <QtGlobal>

namespace Kennel {

struct TopicSettings
{
    bool enabled = true;
    int maxTopicLength = 256;       // bytes of a topic name or filter
    int maxLevels = 16;             // levels of a topic name or filter
    int maxSubscriptions = 256;     // filters one connection may hold
    int retainedCount = 10000;      // retained publications kept, all topics together
    qint64 retainedBytes = 4 * 1024 * 1024; // their bytes (topic + message), all together
    // Monitors' per-topic figures (PROTOCOL §6.8): topics the broker keeps figures for; past it,
    // publications to new topics are only counted together.
    int maxTrackedTopics = 4096;
    // Fan-out (docs/BENCHMARKS.md, "Shared fan-out frames"): a Publication frame of at least
    // this many bytes is encoded once and shared by the subscribers' output queues; a smaller
    // one is copied into each, which costs less than the reference below it (measured: topicbus.cpp).
    qint64 sharedFrameBytes = 1024;

    // `subscribe = NAME FILTER, ...`: whoever holds NAME (an old program, typically) is given the
    // publications matching FILTER, as ordinary messages from the publisher's name.
    struct NamedSubscription
    {
        QByteArray name;
        QByteArray filter;
    };
    QList<NamedSubscription> subscriptions;
    // `publish_names = NAME TOPIC, ...`: a message to NAME (which nobody may then register) is
    // published to TOPIC instead; an old program's `cmd 2` to NAME publishes.
    struct PublishName
    {
        QByteArray name;
        QByteArray topic;
    };
    QList<PublishName> publishNames;
};

} // namespace Kennel
