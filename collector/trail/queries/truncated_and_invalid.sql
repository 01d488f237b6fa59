-- Records that are INVALID, or arrived cut (truncated recipients, truncated headers, raw payload cut, fields trimmed to fit), oldest first
-- parameters: first_day last_day
SELECT day, received_at, invocation_id, source, status, direction,
       truncated, headers_truncated, raw_truncated, trimmed_fields, recipient_count, reason
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
  AND (status = 'INVALID'
       OR truncated = true
       OR headers_truncated = true
       OR raw_truncated = true
       OR trimmed_fields IS NOT NULL)
ORDER BY received_at, invocation_id
