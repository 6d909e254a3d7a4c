mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  name               = "upload-test"
  cidr_block         = "10.250.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]
}

run "private_and_public_subnets_per_zone" {
  command = plan

  assert {
    condition     = [for s in aws_subnet.private : s.cidr_block] == ["10.250.0.0/20", "10.250.16.0/20"]
    error_message = "private subnets must take the first /20 slices, one per zone"
  }

  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.250.128.0/20", "10.250.144.0/20"] && alltrue([for s in aws_subnet.public : !s.map_public_ip_on_launch])
    error_message = "public subnets take the upper slices and never hand out public IPs"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route.private_nat) == 1
    error_message = "the private subnets reach out through one NAT gateway"
  }

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL"
    error_message = "flow logs must record all traffic"
  }
}

run "without_nat_gateway" {
  command = plan

  variables {
    enable_nat_gateway = false
  }

  assert {
    condition     = length(aws_subnet.public) == 0 && length(aws_internet_gateway.this) == 0 && length(aws_nat_gateway.this) == 0
    error_message = "no public subnet, internet or NAT gateway without NAT"
  }
}

run "rejects_a_single_zone" {
  command = plan

  variables {
    availability_zones = ["us-east-1a"]
  }

  expect_failures = [var.availability_zones]
}

run "rejects_a_bad_cidr" {
  command = plan

  variables {
    cidr_block = "10.250.0.0/8"
  }

  expect_failures = [var.cidr_block]
}
