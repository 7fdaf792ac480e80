variable "retrain_schedule_days" {
  description = "Retrain the fraud model at least this often (days)."
  type        = number
  default     = 7
}

variable "retrain_min_average_precision" {
  description = "Matured-label average precision below which retraining starts."
  type        = number
  default     = 0.5
}

variable "min_matured_recall" {
  description = "Matured-label recall below which the ops topic is alarmed."
  type        = number
  default     = 0.5
}

output "cases_table" { value = aws_dynamodb_table.cases.name }
output "labels_table" { value = aws_dynamodb_table.labels.name }
