-- Every record of one message id (WorkMail's, or SES's mail.messageId: receipt, send, deliveries, bounces), oldest first
-- parameters: first_day last_day message_id
SELECT day, received_at, invocation_id, source, event_type, status, direction,
       sender, recipient_count, recipients, subject
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
  AND message_id = ?
ORDER BY received_at, invocation_id
