-- Per UTC day: SES sends, deliveries, bounces and complaints, and the recipients the bounces and complaints name
-- parameters: first_day last_day
SELECT day,
       sum(CASE WHEN event_type = 'Send' THEN 1 ELSE 0 END) AS sends,
       sum(CASE WHEN event_type = 'Delivery' THEN 1 ELSE 0 END) AS deliveries,
       sum(CASE WHEN event_type = 'Bounce' THEN 1 ELSE 0 END) AS bounces,
       sum(CASE WHEN event_type = 'Complaint' THEN 1 ELSE 0 END) AS complaints,
       sum(CASE WHEN event_type = 'Bounce' THEN coalesce(recipient_count, 0) ELSE 0 END) AS bounced_recipients,
       sum(CASE WHEN event_type = 'Complaint' THEN coalesce(recipient_count, 0) ELSE 0 END) AS complained_recipients
FROM workmail_collector.audit_trail
WHERE day BETWEEN ? AND ?
  AND source = 'SES'
  AND status = 'RECORDED'
  AND event_type IN ('Send', 'Delivery', 'Bounce', 'Complaint')
GROUP BY day
ORDER BY day
