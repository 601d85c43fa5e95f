// Subscriptions by filter, arranged by level so that matching a publication walks the topic's
// levels (and the '+' and '#' branches met on the way), never every subscription: a publication
// to a topic of L levels visits at most 2^L nodes in the worst case of '+' at every level, and
// typically L+1. Knows nothing of connections: a subscriber is an opaque pointer.
#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QList>

#include <memory>

namespace Kennel {

struct TopicSubscriber;

class TopicTree
{
public:
    TopicTree();
    ~TopicTree();
    TopicTree(const TopicTree &) = delete;
    TopicTree &operator=(const TopicTree &) = delete;

    // `filter` must have passed Topic::checkFilter. False if the subscriber already has it.
    bool add(QByteArrayView filter, TopicSubscriber *subscriber);
    // False if it did not have it. Nodes left empty are pruned.
    bool remove(QByteArrayView filter, TopicSubscriber *subscriber);
    // Every subscription whose filter matches `topic` (a checked name): `visit(subscriber)` once
    // per matching subscription, so a subscriber with two matching filters is visited twice.
    template<typename Visit>
    void match(QByteArrayView topic, Visit &&visit) const
    {
        const bool reserved = !topic.isEmpty() && topic.front() == '$';
        walk(*m_root, topic, 0, reserved, visit);
    }
    int size() const { return m_size; }
    int nodeCount() const { return m_nodes; }
    // Changes with every add and remove that changed the tree: a match remembered with the
    // generation it was made in is still the match while the generation is the same.
    quint64 generation() const { return m_generation; }

private:
    struct Node
    {
        Node *parent = nullptr;
        QByteArray key; // its level; "+" for a parent's plus child
        QHash<QByteArray, Node *> children;
        Node *plus = nullptr;
        QList<TopicSubscriber *> exact; // filters ending at this node
        QList<TopicSubscriber *> rest;  // filters ending in "/#" below this node ("#" at the root)
    };

    template<typename Visit>
    static void walk(const Node &node, QByteArrayView topic, qsizetype pos, bool reserved, Visit &visit)
    {
        const bool atRoot = node.parent == nullptr;
        // MQTT 4.7.2: a filter starting with a wildcard does not match a '$' topic.
        if (!(atRoot && reserved))
            for (TopicSubscriber *s : node.rest)
                visit(s);
        if (pos > topic.size()) { // every level consumed
            for (TopicSubscriber *s : node.exact)
                visit(s);
            return;
        }
        qsizetype end = topic.indexOf('/', pos);
        if (end < 0)
            end = topic.size();
        const QByteArrayView level = topic.sliced(pos, end - pos);
        const QByteArray key = QByteArray::fromRawData(level.data(), level.size());
        if (const Node *child = node.children.value(key))
            walk(*child, topic, end + 1, reserved, visit);
        if (node.plus && !(atRoot && reserved))
            walk(*node.plus, topic, end + 1, reserved, visit);
    }
    Node *descend(QByteArrayView filter, bool create, bool *hashTail);
    void prune(Node *node);
    static void destroy(Node *node);

    Node *m_root;
    int m_size = 0;
    int m_nodes = 1;
    quint64 m_generation = 0;
};

} // namespace Kennel
