-- Per UTC day, source and direction: messages (as the Messages metric counts them), other SES events, invalid records, and the messages' recipients
-- parameters: first_day last_day
SELECT day, source, direction,
       sum(CASE WHEN status = 'RECORDED' AND (event_type IS NULL OR event_type IN ('Received', 'Send'))
                THEN 1 ELSE 0 END) AS messages,
       sum(CASE WHEN status = 'RECORDED' AND event_type NOT IN ('Received', 'Send')
                THEN 1 ELSE 0 END) AS events,
       sum(CASE WHEN status = 'INVALID' THEN 1 ELSE 0 END) AS invalid,
       sum(CASE WHEN status = 'RECORDED' AND (event_type IS NULL OR event_type IN ('Received', 'Send'))
                THEN coalesce(recipient_count, 0) ELSE 0 END) AS recipients
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
GROUP BY day, source, direction
ORDER BY day, source NULLS LAST, direction
