-- The 25 sender domains with the most messages (WorkMail events, SES receipts and sends), with their recipients
-- parameters: first_day last_day
SELECT substr(sender, strpos(sender, '@') + 1) AS domain,
       count(*) AS messages,
       sum(coalesce(recipient_count, 0)) AS recipients
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
  AND status = 'RECORDED'
  AND (event_type IS NULL OR event_type IN ('Received', 'Send'))
  AND sender IS NOT NULL
GROUP BY substr(sender, strpos(sender, '@') + 1)
ORDER BY messages DESC, domain
LIMIT 25
