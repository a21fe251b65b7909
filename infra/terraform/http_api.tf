resource "aws_apigatewayv2_api" "this" {
  for_each = local.http_apis

  name          = "${var.name_prefix}-${each.key}"
  protocol_type = "HTTP"
  description   = "Every route needs a JWT from the configured issuer"

  tags = local.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  for_each = local.http_apis

  api_id           = aws_apigatewayv2_api.this[each.key].id
  name             = "jwt"
  authorizer_type  = each.value.authorizer.type
  identity_sources = [each.value.authorizer.identity_source]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

# One Lambda proxy integration (payload format 2.0) and one invoke permission per function
# that has routes.
resource "aws_apigatewayv2_integration" "function" {
  for_each = toset([for route in local.routes : route.function])

  api_id                 = aws_apigatewayv2_api.this["http-api"].id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this[each.key].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_lambda_permission" "http_api" {
  for_each = aws_apigatewayv2_integration.function

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this["http-api"].execution_arn}/*/*"
}

resource "aws_apigatewayv2_route" "this" {
  for_each = { for route in local.routes : route.route => route }

  api_id             = aws_apigatewayv2_api.this["http-api"].id
  route_key          = each.value.route
  target             = "integrations/${aws_apigatewayv2_integration.function[each.value.function].id}"
  authorization_type = local.stack.http_api.authorizer.type
  authorizer_id      = aws_apigatewayv2_authorizer.jwt["http-api"].id
}

resource "aws_cloudwatch_log_group" "http_api_access" {
  for_each = local.http_apis

  name              = "/aws/apigateway/${var.name_prefix}-${each.key}"
  retention_in_days = each.value.access_log_retention_days

  tags = local.tags
}

resource "aws_apigatewayv2_stage" "default" {
  for_each = local.http_apis

  api_id      = aws_apigatewayv2_api.this[each.key].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = each.value.throttle.burst_limit
    throttling_rate_limit  = each.value.throttle.rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.http_api_access[each.key].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      protocol           = "$context.protocol"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }

  tags = local.tags
}
