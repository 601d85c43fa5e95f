#include "topictree.h"

namespace Kennel {

TopicTree::TopicTree()
    : m_root(new Node)
{
}

TopicTree::~TopicTree()
{
    destroy(m_root);
}

void TopicTree::destroy(Node *node)
{
    for (Node *child : std::as_const(node->children))
        destroy(child);
    if (node->plus)
        destroy(node->plus);
    delete node;
}

// The node whose subscription list holds `filter`: its last level's node, or for "x/#" the node
// of "x" (its `rest` list). Null when `create` is false and the path does not exist.
TopicTree::Node *TopicTree::descend(QByteArrayView filter, bool create, bool *hashTail)
{
    Node *node = m_root;
    qsizetype pos = 0;
    *hashTail = false;
    for (;;) {
        qsizetype end = filter.indexOf('/', pos);
        if (end < 0)
            end = filter.size();
        const QByteArrayView level = filter.sliced(pos, end - pos);
        if (level == "#") {
            *hashTail = true;
            return node;
        }
        Node *next = nullptr;
        if (level == "+") {
            if (!node->plus && create) {
                node->plus = new Node{node, QByteArrayLiteral("+"), {}, nullptr, {}, {}};
                ++m_nodes;
            }
            next = node->plus;
        } else {
            const QByteArray key = level.toByteArray();
            next = node->children.value(key);
            if (!next && create) {
                next = new Node{node, key, {}, nullptr, {}, {}};
                node->children.insert(key, next);
                ++m_nodes;
            }
        }
        if (!next)
            return nullptr;
        node = next;
        if (end == filter.size())
            return node;
        pos = end + 1;
    }
}

bool TopicTree::add(QByteArrayView filter, TopicSubscriber *subscriber)
{
    bool hashTail = false;
    Node *node = descend(filter, true, &hashTail);
    QList<TopicSubscriber *> &list = hashTail ? node->rest : node->exact;
    if (list.contains(subscriber))
        return false;
    list.append(subscriber);
    ++m_size;
    ++m_generation;
    return true;
}

bool TopicTree::remove(QByteArrayView filter, TopicSubscriber *subscriber)
{
    bool hashTail = false;
    Node *node = descend(filter, false, &hashTail);
    if (!node)
        return false;
    QList<TopicSubscriber *> &list = hashTail ? node->rest : node->exact;
    if (!list.removeOne(subscriber))
        return false;
    --m_size;
    ++m_generation;
    prune(node);
    return true;
}

void TopicTree::prune(Node *node)
{
    while (node->parent && node->exact.isEmpty() && node->rest.isEmpty() && node->children.isEmpty() && !node->plus) {
        Node *parent = node->parent;
        if (parent->plus == node)
            parent->plus = nullptr;
        else
            parent->children.remove(node->key);
        delete node;
        --m_nodes;
        node = parent;
    }
}

} // namespace Kennel
