import { Field, InputType, ObjectType } from 'type-graphql';
import { Channel } from './enums';
import { JSONScalar } from './scalars';
import { TemplateInput } from './trigger.types';

@InputType()
export class RenderTemplateInput {
  @Field(() => TemplateInput)
  template: TemplateInput;

  @Field(() => String, {
    nullable: true,
    description: 'Render for this customer; without one, for a customer with nothing known.',
  })
  customerExternalId?: string | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description:
      'A sample entry event: { name, properties, occurredAt }. occurredAt defaults to now.',
  })
  event?: unknown;

  @Field(() => Channel, { nullable: true, description: 'The step’s channel (step.channel).' })
  channel?: Channel | null;
}

@ObjectType({ description: 'A variable path that no template context provides.' })
export class TemplateWarning {
  @Field({ description: 'subject, body or html.' })
  part: string;

  @Field({ description: 'The path as written, e.g. customer.first_name.' })
  path: string;

  @Field()
  message: string;
}

@ObjectType({ description: 'What a send would render; parts are null when it would not send.' })
export class Rendered {
  @Field(() => String, { nullable: true })
  subject: string | null;

  @Field(() => String, { nullable: true })
  body: string | null;

  @Field(() => String, { nullable: true })
  html: string | null;

  @Field(() => [TemplateWarning])
  warnings: TemplateWarning[];

  @Field(() => String, {
    nullable: true,
    description:
      'A variable used without a default that has no value: a send would be suppressed ' +
      'with TEMPLATE_VARIABLE_MISSING.',
  })
  missingVariable: string | null;
}
