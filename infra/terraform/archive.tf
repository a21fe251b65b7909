# The archives (manifest "archives"): every record of a Kinesis stream also written to S3 by
# Amazon Data Firehose, GZIP-compressed, partitioned by event date, for training jobs. One bucket
# for all of them, "<name_prefix>-archive-<account id>" (bucket names are global), versioned,
# encrypted, private, TLS only, with a lifecycle; per archive a delivery stream
# "<name_prefix>-<key>" reading its stream, the role Firehose assumes
# ("<name_prefix>-<key>-firehose"), and the log group "/aws/kinesisfirehose/<name_prefix>-<key>"
# with the log stream "DestinationDelivery" for delivery errors.
#
# The object layout is defined in crates/stack (src/manifest/archive.rs), which renders the SAM
# template; the strings below are the same, and infra/tests/deploy_test.py reads them back.
locals {
  archives = try(local.stack.archives, {})

  # The bucket, by its key ("archive"), when the manifest has an archive.
  archive_buckets = length(local.archives) == 0 ? {} : {
    archive = "${var.name_prefix}-archive-${data.aws_caller_identity.current.account_id}"
  }

  # Per archive, Firehose's prefixes (records by the date the query extracts, errors by type and
  # the day Firehose gave up), the two key prefixes it writes under, and the metadata extraction
  # query (JQ 1.6) whose "date" is the first 10 characters of the RFC 3339 event time.
  archive_layouts = {
    for key, archive in local.archives : key => {
      prefix              = "${archive.prefix}/date=!{partitionKeyFromQuery:date}/"
      error_output_prefix = "${archive.prefix}-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/"
      written_prefixes    = ["${archive.prefix}/", "${archive.prefix}-errors/"]
      query               = "{date: .${archive.partition_date_field}[0:10]}"
      uri                 = "s3://${local.archive_buckets["archive"]}/${archive.prefix}/"
    }
  }
}

resource "aws_s3_bucket" "archive" {
  # Access logging would need a second bucket (infra/checkov.yaml skips CKV_AWS_18 with the rest
  # of the bucket's skips).
  for_each = local.archive_buckets

  bucket = each.value
  # false: a destroy fails while the bucket holds objects, which are the only copy of the
  # activity past the stream's 24 hours.
  force_destroy = var.archive_force_destroy

  tags = local.tags

  lifecycle {
    precondition {
      condition     = each.value == lower(each.value) && length(each.value) <= 63
      error_message = "The archive bucket name ${each.value} is not a valid S3 bucket name (lowercase, at most 63 characters): use a lowercase name_prefix."
    }
  }
}

resource "aws_s3_bucket_versioning" "archive" {
  for_each = local.archive_buckets

  bucket = aws_s3_bucket.archive[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

# The AWS-managed key aws/s3: no key to pay for or administer, and the account's principals (the
# Firehose role, training jobs) need no KMS permission for it. A bucket key makes S3 ask KMS for
# a data key now and then instead of once per object.
resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  for_each = local.archive_buckets

  bucket = aws_s3_bucket.archive[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  for_each = local.archive_buckets

  bucket                  = aws_s3_bucket.archive[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the bucket's owner owns every object, whoever wrote it.
resource "aws_s3_bucket_ownership_controls" "archive" {
  for_each = local.archive_buckets

  bucket = aws_s3_bucket.archive[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# One rule per archive on its prefix, which its records' and its errors' keys both start with
# (crates/stack refuses a prefix that begins another archive's): Standard-IA, then expiry. One
# rule for every object: noncurrent versions go after 30 days, unfinished uploads after 7.
resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  for_each = local.archive_buckets

  bucket = aws_s3_bucket.archive[each.key].id

  dynamic "rule" {
    for_each = local.archives
    content {
      id     = rule.key
      status = "Enabled"

      filter {
        prefix = rule.value.prefix
      }

      transition {
        days          = rule.value.infrequent_access_after_days
        storage_class = "STANDARD_IA"
      }

      expiration {
        days = rule.value.expire_after_days
      }
    }
  }

  rule {
    id     = "versions-and-uploads"
    status = "Enabled"

    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Noncurrent versions exist only once versioning is on.
  depends_on = [aws_s3_bucket_versioning.archive]
}

# Requests without TLS are refused, whoever makes them.
resource "aws_s3_bucket_policy" "archive" {
  for_each = local.archive_buckets

  bucket = aws_s3_bucket.archive[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.archive[each.key].arn, "${aws_s3_bucket.archive[each.key].arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # S3 refuses a policy while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.archive]
}

resource "aws_cloudwatch_log_group" "archive" {
  for_each = local.archives

  name              = "/aws/kinesisfirehose/${var.name_prefix}-${each.key}"
  retention_in_days = 30

  tags = local.tags
}

resource "aws_cloudwatch_log_stream" "archive" {
  for_each = local.archives

  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.archive[each.key].name
}

resource "aws_iam_role" "archive" {
  for_each = local.archives

  name        = "${var.name_prefix}-${each.key}-firehose"
  description = "Role Firehose assumes to archive stream ${each.value.stream} to S3"
  # This account's Firehose only: Firehose passes the account id as the external id.
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = data.aws_caller_identity.current.account_id } }
    }]
  })

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length("${var.name_prefix}-${each.key}-firehose") <= 64
      error_message = "The role name ${var.name_prefix}-${each.key}-firehose is longer than 64 characters: shorten name_prefix."
    }
  }
}

# Read the archived stream; write this archive's objects (records and errors) and nothing else
# of the bucket; write delivery errors to its log stream. The stream is encrypted with the
# AWS-managed key alias/aws/kinesis, which needs no KMS permission of its readers.
resource "aws_iam_role_policy" "archive" {
  for_each = local.archives

  name = "${each.key}-firehose"
  role = aws_iam_role.archive[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadStream"
        Effect   = "Allow"
        Action   = ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
        Resource = [aws_kinesis_stream.this[each.value.stream].arn]
      },
      {
        Sid      = "Bucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Resource = [aws_s3_bucket.archive["archive"].arn]
      },
      {
        Sid      = "Objects"
        Effect   = "Allow"
        Action   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
        Resource = [for prefix in local.archive_layouts[each.key].written_prefixes : "${aws_s3_bucket.archive["archive"].arn}/${prefix}*"]
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.archive[each.key].arn}:log-stream:${aws_cloudwatch_log_stream.archive[each.key].name}"]
      },
    ]
  })
}

# No server_side_encryption: Firehose's own encryption is for Direct PUT and cannot be turned on
# with a Kinesis stream as source; the stream encrypts the records (alias/aws/kinesis) and the
# bucket the objects.
resource "aws_kinesis_firehose_delivery_stream" "archive" {
  for_each = local.archives

  name        = "${var.name_prefix}-${each.key}"
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.this[each.value.stream].arn
    role_arn           = aws_iam_role.archive[each.key].arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.archive[each.key].arn
    bucket_arn          = aws_s3_bucket.archive["archive"].arn
    prefix              = local.archive_layouts[each.key].prefix
    error_output_prefix = local.archive_layouts[each.key].error_output_prefix
    compression_format  = "GZIP"
    buffering_interval  = each.value.buffer_interval_seconds
    buffering_size      = each.value.buffer_size_mib

    # A partition Firehose cannot deliver is retried for 300 s, then written under the error prefix.
    dynamic_partitioning_configuration {
      enabled        = true
      retry_duration = 300
    }

    processing_configuration {
      enabled = true

      processors {
        type = "MetadataExtraction"
        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = local.archive_layouts[each.key].query
        }
        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
      }

      # A newline after each record: newline-delimited JSON.
      processors {
        type = "AppendDelimiterToRecord"
      }
    }

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.archive[each.key].name
      log_stream_name = aws_cloudwatch_log_stream.archive[each.key].name
    }
  }

  tags = local.tags

  # Firehose checks at creation that it can assume the role and reach the stream and bucket.
  depends_on = [aws_iam_role_policy.archive, aws_s3_bucket_policy.archive]
}
