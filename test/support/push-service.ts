export * from '../../scripts/lib/push-service';
