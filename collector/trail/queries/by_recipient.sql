-- Records whose recipient list names this address (an HMAC when redaction is on), oldest first
-- parameters: first_day last_day recipient
SELECT day, received_at, invocation_id, source, event_type, status, direction,
       message_id, sender, recipient_count, subject
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
  AND contains(recipients, ?)
ORDER BY received_at, invocation_id
