-- Consume from multiple topics using regex
CREATE TABLE all_events (
    topic TEXT,
    partition INT,
    offset BIGINT,
    key TEXT,
    value TEXT,
    timestamp TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'events-.*',  -- Regex pattern for multiple topics
    type = 'source',
    format = 'raw',
    'source.offset' = 'latest'
);

SELECT * FROM all_events;
