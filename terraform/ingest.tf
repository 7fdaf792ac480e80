# Idempotency claims of the ingest API on transaction_id (securebank/ingest/idempotency.py):
# conditional writes, expired by TTL after the 24 h window.
resource "aws_dynamodb_table" "ingest_idempotency" {
  name         = "${local.base}-ingest-idempotency"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "transaction_id"
  attribute {
    name = "transaction_id"
    type = "S"
  }
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }
  point_in_time_recovery {
    enabled = true
  }
  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.data.arn
  }
}

output "ingest_idempotency_table" { value = aws_dynamodb_table.ingest_idempotency.name }
