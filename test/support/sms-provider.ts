export * from '../../scripts/lib/sms-provider';
