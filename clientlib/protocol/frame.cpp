#include "frame.h"

namespace Kennel {

bool Frame::operator==(const Frame &other) const
{
    return type == other.type && messageId == other.messageId && flags == other.flags && source == other.source
        && target == other.target && payload == other.payload;
}

// The names below appear in logs and in kennelctl's output, and scripts match on them: they are
// part of the interface. Add new ones; never rename.

const char *frameTypeName(FrameType type)
{
    switch (type) {
    case FrameType::Hello: return "hello";
    case FrameType::Welcome: return "welcome";
    case FrameType::Error: return "error";
    case FrameType::Bye: return "bye";
    case FrameType::Ping: return "ping";
    case FrameType::Pong: return "pong";
    case FrameType::Send: return "send";
    case FrameType::Deliver: return "deliver";
    case FrameType::DeliveryStatus: return "delivery_status";
    case FrameType::DeliverAck: return "deliver_ack";
    case FrameType::Call: return "call";
    case FrameType::CallIncoming: return "call_incoming";
    case FrameType::Reply: return "reply";
    case FrameType::CallResult: return "call_result";
    case FrameType::WatchdogRegister: return "watchdog_register";
    case FrameType::WatchdogFeed: return "watchdog_feed";
    case FrameType::WatchdogAck: return "watchdog_ack";
    case FrameType::Subscribe: return "subscribe";
    case FrameType::Unsubscribe: return "unsubscribe";
    case FrameType::TopicAck: return "topic_ack";
    case FrameType::Publish: return "publish";
    case FrameType::PublishStatus: return "publish_status";
    case FrameType::Publication: return "publication";
    case FrameType::MonitorFirst:
    case FrameType::MonitorLast:
        break; // the whole range is handled below
    }
    // PROTOCOL §6: the range is reserved as a whole; its members are named by the monitor feed.
    const auto raw = quint8(type);
    if (raw >= quint8(FrameType::MonitorFirst) && raw <= quint8(FrameType::MonitorLast))
        return "monitor";
    return "unknown";
}

const char *deliveryStatusName(DeliveryStatus status)
{
    switch (status) {
    case DeliveryStatus::Delivered: return "delivered";
    case DeliveryStatus::NoSuchClient: return "no_such_client";
    case DeliveryStatus::TargetQueueFull: return "queue_full";
    case DeliveryStatus::TooLargeForTarget: return "too_large_for_target";
    case DeliveryStatus::NotRegistered: return "not_registered";
    case DeliveryStatus::SenderNameUnfit: return "sender_name_unfit";
    case DeliveryStatus::InvalidTarget: return "invalid_target";
    case DeliveryStatus::ShuttingDown: return "shutting_down";
    case DeliveryStatus::Held: return "held";
    case DeliveryStatus::Expired: return "expired";
    case DeliveryStatus::DroppedNameCount: return "dropped_name_count";
    case DeliveryStatus::DroppedNameBytes: return "dropped_name_bytes";
    case DeliveryStatus::DroppedTotal: return "dropped_total";
    case DeliveryStatus::StartFailed: return "start_failed";
    case DeliveryStatus::PolicyDenied: return "policy_denied";
    case DeliveryStatus::Unacknowledged: return "unacknowledged";
    case DeliveryStatus::RemoteTimeout: return "remote_timeout";
    case DeliveryStatus::RemoteDropped: return "remote_dropped";
    }
    return "unknown";
}

const char *errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::None: return "none";
    case ErrorCode::BadMagic: return "bad_magic";
    case ErrorCode::UnsupportedVersion: return "unsupported_version";
    case ErrorCode::FrameTooLarge: return "frame_too_large";
    case ErrorCode::MalformedFrame: return "malformed_frame";
    case ErrorCode::UnknownFrameType: return "unknown_frame_type";
    case ErrorCode::InvalidName: return "invalid_name";
    case ErrorCode::NameTaken: return "name_taken";
    case ErrorCode::NotRegistered: return "not_registered";
    case ErrorCode::AlreadyRegistered: return "already_registered";
    case ErrorCode::RegisterTimeout: return "register_timeout";
    case ErrorCode::TooManyClients: return "too_many_clients";
    case ErrorCode::SourceMismatch: return "source_mismatch";
    case ErrorCode::PidMismatch: return "pid_mismatch";
    case ErrorCode::NotPermitted: return "not_permitted";
    case ErrorCode::ShuttingDown: return "shutting_down";
    case ErrorCode::IncompleteFrameTimeout: return "incomplete_frame_timeout";
    case ErrorCode::InvalidWatchdogTerms: return "invalid_watchdog_terms";
    case ErrorCode::WatchdogUnavailable: return "watchdog_unavailable";
    case ErrorCode::WatchdogExpired: return "watchdog_expired";
    case ErrorCode::IdleTimeout: return "idle_timeout";
    case ErrorCode::NameReserved: return "name_reserved";
    case ErrorCode::PolicyDenied: return "policy_denied";
    case ErrorCode::ReadOnly: return "read_only";
    case ErrorCode::OverBudget: return "over_budget";
    case ErrorCode::InvalidTopic: return "invalid_topic";
    case ErrorCode::TooManySubscriptions: return "too_many_subscriptions";
    case ErrorCode::ReservedTopic: return "reserved_topic";
    case ErrorCode::RetainedStoreFull: return "retained_store_full";
    case ErrorCode::InvalidCall: return "invalid_call";
    }
    return "unknown";
}

const char *callOutcomeName(CallOutcome outcome)
{
    switch (outcome) {
    case CallOutcome::Replied: return "replied";
    case CallOutcome::ErrorReply: return "error_reply";
    case CallOutcome::Timeout: return "timeout";
    case CallOutcome::NoSuchClient: return "no_such_client";
    case CallOutcome::CalleeGone: return "callee_gone";
    case CallOutcome::TooManyCalls: return "too_many_calls";
    case CallOutcome::NotCallable: return "not_callable";
    case CallOutcome::QueueFull: return "queue_full";
    case CallOutcome::InvalidTarget: return "invalid_target";
    case CallOutcome::ShuttingDown: return "shutting_down";
    case CallOutcome::DuplicateId: return "duplicate_id";
    case CallOutcome::StartFailed: return "start_failed";
    case CallOutcome::PolicyDenied: return "policy_denied";
    }
    return "unknown";
}

} // namespace Kennel
