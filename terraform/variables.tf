variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "prefix" {
  description = "Name prefix of every resource (SECUREBANK_PREFIX)."
  type        = string
  default     = "securebank"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.prefix))
    error_message = "prefix: lower-case letters, digits and dashes, 3-31 characters."
  }
}

variable "environment" {
  description = "Environment name (SECUREBANK_ENVIRONMENT), e.g. dev, prod."
  type        = string
  default     = "dev"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: lower-case letters, digits and dashes, 2-16 characters."
  }
}

variable "stream_shard_count" {
  description = "Kinesis shards (ignored when stream_on_demand is true)."
  type        = number
  default     = 2
  validation {
    condition     = var.stream_shard_count >= 1 && var.stream_shard_count <= 4
    error_message = "stream_shard_count must be 1-4 (the seed's 2-4 shards)."
  }
}

variable "stream_on_demand" {
  description = "Use on-demand capacity for the stream instead of provisioned shards."
  type        = bool
  default     = false
}

variable "image_uri" {
  description = "ECR image of the platform (Dockerfile): pipeline steps and the endpoint."
  type        = string
  default     = ""
}

variable "scorer_image_uri" {
  description = "ECR image of the stream scorer (lambda/Dockerfile)."
  type        = string
}

variable "latency_budget_ms" {
  description = "The scorer's latency budget per batch (LATENCY_BUDGET_MS)."
  type        = number
  default     = 100
}

variable "scorer_batch_size" {
  type    = number
  default = 100
}

variable "scorer_batching_window_seconds" {
  description = "Lambda's batching window: 0 sends each pushed record batch at once (latency budget)."
  type        = number
  default     = 0
}

variable "scorer_max_retry_attempts" {
  description = "Retries of a failed batch before the on-failure queue; -1: until it succeeds."
  type        = number
  default     = -1
}

variable "scorer_reserved_concurrency" {
  description = "Reserved concurrency of the scorer (shards x parallelization factor is enough)."
  type        = number
  default     = 8
}

variable "log_retention_days" {
  type    = number
  default = 365
}

variable "api_rate_limit" {
  description = "API Gateway steady-state requests per second per key."
  type        = number
  default     = 200
}

variable "api_burst_limit" {
  type    = number
  default = 400
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the ops topic."
  type        = string
  default     = ""
}

variable "enable_cloudtrail" {
  description = "Create a CloudTrail trail for data events on the lake and tables."
  type        = bool
  default     = false
}
