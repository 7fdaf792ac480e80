# The BI warehouse: Redshift Serverless in your VPC, never publicly accessible, encrypted with the
# platform key, with its own role to read the lake through the Glue catalog. Optional (it needs a
# VPC with private subnets in three Availability Zones and costs per RPU-hour while queried).
# Schema, views and the daily load: docs/sql/redshift.sql (securebank/analytics/warehouse.py).

variable "enable_redshift" {
  description = "Create the Redshift Serverless warehouse (needs redshift_vpc_id and subnets)."
  type        = bool
  default     = false
}

variable "redshift_vpc_id" {
  description = "VPC of the warehouse's workgroup."
  type        = string
  default     = ""
}

variable "redshift_subnet_ids" {
  description = "Private subnets of the workgroup, in at least three Availability Zones."
  type        = list(string)
  default     = []
}

variable "redshift_client_cidrs" {
  description = "Networks allowed to connect on 5439 (BI tools, bastion); never 0.0.0.0/0."
  type        = list(string)
  default     = []
  validation {
    condition     = !contains(var.redshift_client_cidrs, "0.0.0.0/0")
    error_message = "The warehouse is private: 0.0.0.0/0 is not allowed."
  }
}

variable "redshift_base_capacity" {
  description = "Base RPUs of the workgroup (8 is the smallest)."
  type        = number
  default     = 8
}

locals {
  redshift_count = var.enable_redshift ? 1 : 0
  warehouse_name = "${local.base}-warehouse"
}

data "aws_iam_policy_document" "assume_redshift" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "redshift" {
  count              = local.redshift_count
  name               = "${local.base}-redshift"
  assume_role_policy = data.aws_iam_policy_document.assume_redshift.json
}

data "aws_iam_policy_document" "redshift" {
  statement {
    sid       = "ListLake"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.data["lake"].arn]
  }
  statement {
    sid     = "ReadLake"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.data["lake"].arn}/compacted/decisions/*",
      "${aws_s3_bucket.data["lake"].arn}/raw/*",
      "${aws_s3_bucket.data["lake"].arn}/labels/*",
      "${aws_s3_bucket.data["lake"].arn}/cases/*",
    ]
  }
  statement {
    sid       = "Catalog"
    actions   = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition"]
    resources = ["arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog", aws_glue_catalog_database.lake.arn, "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${aws_glue_catalog_database.lake.name}/*"]
  }
  statement {
    sid       = "Encryption"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [aws_kms_key.data.arn]
  }
}

resource "aws_iam_role_policy" "redshift" {
  count  = local.redshift_count
  name   = "read-lake"
  role   = aws_iam_role.redshift[0].id
  policy = data.aws_iam_policy_document.redshift.json
}

resource "aws_redshiftserverless_namespace" "warehouse" {
  count                            = local.redshift_count
  namespace_name                   = local.warehouse_name
  db_name                          = "securebank"
  admin_username                   = "securebank_admin"
  manage_admin_password            = true # kept in Secrets Manager, never in state or code
  admin_password_secret_kms_key_id = aws_kms_key.data.arn
  kms_key_id                       = aws_kms_key.data.arn
  iam_roles                        = [aws_iam_role.redshift[0].arn]
  default_iam_role_arn             = aws_iam_role.redshift[0].arn
  log_exports                      = ["userlog", "connectionlog", "useractivitylog"]
}

resource "aws_security_group" "redshift" {
  count       = local.redshift_count
  name        = local.warehouse_name
  description = "Redshift Serverless workgroup: SQL clients in, AWS APIs out."
  vpc_id      = var.redshift_vpc_id
  dynamic "ingress" {
    for_each = length(var.redshift_client_cidrs) > 0 ? [1] : []
    content {
      description = "SQL clients"
      from_port   = 5439
      to_port     = 5439
      protocol    = "tcp"
      cidr_blocks = var.redshift_client_cidrs
    }
  }
  egress {
    description = "HTTPS to S3, Glue and KMS (through VPC endpoints or NAT)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_redshiftserverless_workgroup" "warehouse" {
  count                = local.redshift_count
  namespace_name       = aws_redshiftserverless_namespace.warehouse[0].namespace_name
  workgroup_name       = local.warehouse_name
  base_capacity        = var.redshift_base_capacity
  publicly_accessible  = false
  enhanced_vpc_routing = true
  subnet_ids           = var.redshift_subnet_ids
  security_group_ids   = [aws_security_group.redshift[0].id]
  config_parameter {
    parameter_key   = "require_ssl"
    parameter_value = "true"
  }
  lifecycle {
    precondition {
      condition     = length(var.redshift_subnet_ids) >= 3 && var.redshift_vpc_id != ""
      error_message = "enable_redshift needs redshift_vpc_id and subnets in three Availability Zones."
    }
  }
}

output "redshift_role_arn" {
  value = var.enable_redshift ? aws_iam_role.redshift[0].arn : null
}

output "redshift_workgroup_endpoint" {
  value = var.enable_redshift ? aws_redshiftserverless_workgroup.warehouse[0].endpoint : null
}
