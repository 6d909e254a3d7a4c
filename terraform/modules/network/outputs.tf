output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "subnet_private_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "subnet_public_ids" {
  description = "IDs of the public subnets (empty without a NAT gateway)."
  value       = aws_subnet.public[*].id
}

output "route_table_private_id" {
  description = "ID of the private subnets' route table."
  value       = aws_route_table.private.id
}

output "vpc_endpoint_s3_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}
