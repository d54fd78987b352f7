-- Source table for raw events
CREATE TABLE raw_events (
    event_id BIGINT,
    user_id TEXT,
    event_type TEXT,
    payload JSON,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'kafka:9092',
    topic = 'raw_events',
    type = 'source',
    format = 'json',
    'source.offset' = 'earliest',
    'source.group_id' = 'event_processor'
);

-- Sink table for processed events
CREATE TABLE processed_events (
    event_id BIGINT,
    user_id TEXT,
    event_category TEXT,
    score DOUBLE,
    processed_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'kafka:9092',
    topic = 'processed_events',
    type = 'sink',
    format = 'json',
    'sink.commit_mode' = 'exactly_once',
    'sink.key_field' = 'user_id'
);

-- Processing pipeline
INSERT INTO processed_events
SELECT 
    event_id,
    user_id,
    CASE 
        WHEN event_type LIKE 'purchase%' THEN 'transaction'
        WHEN event_type LIKE 'view%' THEN 'browse'
        ELSE 'other'
    END as event_category,
    CAST(JSON_VALUE(payload, '$.score') AS DOUBLE) as score,
    NOW() as processed_at
FROM raw_events
WHERE event_type IS NOT NULL;
