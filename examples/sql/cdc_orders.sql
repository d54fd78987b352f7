-- Source table for CDC events
CREATE TABLE cdc_orders (
    order_id BIGINT PRIMARY KEY,
    customer_id BIGINT,
    total DECIMAL,
    status TEXT,
    updated_at TIMESTAMP
) WITH (
    connector = 'kafka',
    bootstrap_servers = 'localhost:9092',
    topic = 'mysql.shop.orders',
    type = 'source',
    format = 'debezium_json',
    'source.offset' = 'earliest'
);

-- Debezium format automatically handles:
-- - Insert/Update/Delete operations
-- - Before/After states
-- - Schema evolution

SELECT * FROM cdc_orders;
